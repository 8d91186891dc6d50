"""The real `dermagraph serve` in a subprocess, for the load benchmark and the browser, API and fault tests.

Sessions and uploads go to a var folder of their own whose ``index`` links to the indexes the graph
reads (built once, as `make demo` does), so nothing touches the developer's consultations. The
server can be stopped politely (SIGINT), killed outright (SIGKILL) and started again on the same
port and folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DERMAGRAPH = Path(sys.executable).with_name("dermagraph")
START_TIMEOUT_S = 900  # model loading and warm-up on 2 shared cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_var_dir(root: Path, index_dir: Path) -> Path:
    var = Path(root) / "var"
    var.mkdir(parents=True, exist_ok=True)
    if not (var / "index").exists():
        (var / "index").symlink_to(index_dir, target_is_directory=True)
    return var


class AppServer:
    def __init__(self, var_dir: Path, port: int | None = None, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.var_dir = Path(var_dir)
        self.port = port or free_port()
        self.args = args
        self.env = env or {}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.var_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> "AppServer":
        env = {**os.environ, "DERMAGRAPH_VAR": str(self.var_dir), "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **self.env}
        if "DERMAGRAPH_AUTH" not in self.env:
            env.pop("DERMAGRAPH_AUTH", None)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(DERMAGRAPH), "serve", "--port", str(self.port), *self.args], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dermagraph serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.status("/config") in (200, 401):
                return self
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"dermagraph serve not up after {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a crash would: no clean-up code runs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def log_text(self) -> str:
        """The whole server log (start-up lines included, however much later requests wrote)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
