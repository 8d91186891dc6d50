"""Real Chroma and Postgres servers on loopback, started and stopped by the tests, the cluster benchmark and
`dermagraph cluster` (``make serve-cluster``).

* ``ChromaServer``: ``chroma run --path DIR --host 127.0.0.1 --port N`` from the chromadb package.
* ``PostgresServer``: a throw-away cluster in a folder, made with Debian's ``initdb`` and run with
  ``pg_ctl`` (as the ``postgres`` user when we are root: Postgres refuses to run as root), listening on
  127.0.0.1 only, one database, ``trust`` authentication for loopback connections (a local test
  cluster; docs/deploy.md says what a real deployment uses instead).

Both can be stopped, killed and started again on the same port and folder (the outage tests).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.live_server import free_port

CHROMA = Path(sys.executable).with_name("chroma")
START_TIMEOUT_S = 120


class ServerError(RuntimeError):
    pass


def _wait(check, what: str, log: Path, timeout_s: float = START_TIMEOUT_S, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        if check():
            return
        time.sleep(0.3)
    raise ServerError(f"{what} not up after {timeout_s:.0f} s:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


class ChromaServer:
    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = Path(path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.path.with_name(self.path.name + ".log")
        self.proc: subprocess.Popen | None = None

    def alive(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> "ChromaServer":
        if not CHROMA.exists():
            raise ServerError(f"{CHROMA} not found: the chromadb package provides `chroma`")
        self.path.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        _wait(self.alive, f"chroma run on port {self.port}", self.log_path, proc=self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> "ChromaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def postgres_bin() -> Path | None:
    """Debian's versioned bin folder (initdb and pg_ctl are not on PATH there), or the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A throw-away cluster; ``url`` is ready for ``DERMAGRAPH_SESSIONS_URL`` once started."""

    def __init__(self, root: Path | None = None, port: int | None = None, user: str = "dermagraph",
                 database: str = "dermagraph") -> None:
        # Postgres runs as `postgres` when we are root: its folder must be one that user can reach, and
        # pytest's temporary folders (mode 0700 under root's) are not; /tmp is.
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="dermagraph-pg-"))
        self.port = port or free_port()
        self.user, self.database = user, database
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.url = f"postgresql://{user}@127.0.0.1:{self.port}/{database}"
        self.bin = postgres_bin()

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as_owner(), *args], capture_output=True, text=True, timeout=120)

    def alive(self) -> bool:
        run = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True)
        return run.returncode == 0

    def start(self) -> "PostgresServer":
        if self.bin is None:
            raise ServerError("PostgreSQL is not installed (Debian: apt-get install postgresql); "
                              "initdb and pg_ctl are needed for a local sessions database")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.root.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            made = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                             "-E", "UTF8", "--no-sync", "--locale=C")
            if made.returncode:
                raise ServerError(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        started = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60",
                            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200",
                            "start")
        if started.returncode:
            raise ServerError(f"pg_ctl start failed: {started.stderr.strip()}\n{_tail(self.log_path)}")
        _wait(self.alive, f"postgres on port {self.port}", self.log_path)
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self, mode: str = "fast") -> None:
        if self.bin is None or not (self.data / "postmaster.pid").exists():
            return
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


class LocalCluster:
    """A Chroma server, a throw-away Postgres and ``replicas`` `dermagraph serve` processes sharing them (and one
    uploads folder), the indexes built into Chroma first: `dermagraph cluster`, the cluster benchmark, the replica
    tests. ``env``: the settings a process needs to join it."""

    def __init__(self, root: Path, replicas: int = 2, port: int | None = None, chroma_port: int | None = None,
                 postgres_port: int | None = None, postgres_root: Path | None = None) -> None:
        self.root = Path(root)
        self.n_replicas, self.port = replicas, port
        self.chroma = ChromaServer(self.root / "chroma", port=chroma_port)
        self.postgres = PostgresServer(postgres_root, port=postgres_port)
        self.replicas: list = []
        self.env: dict[str, str] = {}

    def start(self, on_status=lambda line: None, quiet: bool = True) -> "LocalCluster":
        """``quiet=False``: the index build's progress bars go to the terminal (``dermagraph cluster``)."""
        from evals.live_server import DERMAGRAPH, AppServer

        try:
            self.chroma.start()
            on_status(f"chroma   {self.chroma.url}  (store {self.chroma.path}, log {self.chroma.log_path})")
            self.postgres.start()
            on_status(f"postgres {self.postgres.url}  (cluster {self.postgres.data}, log {self.postgres.log_path})")
            self.env = {"DERMAGRAPH_CHROMA_URL": self.chroma.url, "DERMAGRAPH_SESSIONS_URL": self.postgres.url,
                        "DERMAGRAPH_UPLOADS": str(self.root / "uploads")}
            on_status("building the indexes into the Chroma server where missing or stale…")
            build = subprocess.run([str(DERMAGRAPH), "index", "build"], env={**os.environ, **self.env},
                                   capture_output=quiet, text=True, timeout=1800)
            if build.returncode:
                raise ServerError(f"`dermagraph index build` against {self.chroma.url} failed (exit {build.returncode})"
                                  + (f":\n{build.stderr[-2000:]}" if quiet else ""))
            for i in range(self.n_replicas):
                var = self.root / f"replica-{i + 1}"
                var.mkdir(parents=True, exist_ok=True)
                on_status(f"starting replica {i + 1} (models load once)…")
                port = self.port + i if self.port else None
                self.replicas.append(AppServer(var, port=port, env=self.env).start())
                on_status(f"replica {i + 1}: {self.replicas[-1].url}  (log {self.replicas[-1].log_path})")
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        procs = [self.chroma.proc, *(r.proc for r in self.replicas)]
        return all(p is not None and p.poll() is None for p in procs) and self.postgres.alive()

    def stop(self) -> None:
        for replica in reversed(self.replicas):
            replica.stop()
        self.chroma.stop()
        self.postgres.stop()

    def cleanup(self) -> None:
        self.stop()
        self.postgres.cleanup()

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
