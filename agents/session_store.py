"""Where consultations are checkpointed: SQLite on this machine (the default) or a Postgres server.

``open_session_store(settings)`` gives a ``SessionStore``: the LangGraph checkpointer, the thread ids
it holds, and two locks the app needs once several processes share one database:

* ``turn_lock(thread_id)``: one turn of a thread at a time, across every replica. SQLite: a lock in
  this process (one process owns the file). Postgres: a session-level advisory lock on a pooled
  connection, released by the server when the process dies, so a replica killed mid-turn never
  leaves a thread locked.
* ``sweep_lock()``: one retention sweep at a time; a second replica starting meanwhile skips its sweep.

Postgres (``DERMAGRAPH_SESSIONS_URL=postgresql://...``): ``langgraph-checkpoint-postgres`` over a
psycopg 3 connection pool, with the same allow-listed serializer as SQLite, so the guarantees of
``agents.checkpoints`` (a killed turn loses no completed turn and leaks no half one) hold unchanged.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from knowledge.settings import Settings, get_settings

from agents.checkpoints import checkpoint_serializer

URL_SETTING = "DERMAGRAPH_SESSIONS_URL"
SETUP_LOCK_KEY = 0x6465726D  # "derm": schema migrations, one process at a time
SWEEP_LOCK_KEY = 0x7377656570  # "sweep": retention, one process at a time


class SessionStoreError(RuntimeError):
    """The sessions database named by the setting cannot be used."""


class ServiceUnavailable(RuntimeError):
    """A server the turn needs (the sessions database, the Chroma index server) is down; the turn was not recorded."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service} cannot be reached ({detail}); the question was not recorded: "
                         "ask again in a moment")
        self.service = service


def as_outage(exc: BaseException) -> ServiceUnavailable | None:
    """The outage an exception reports (a server unreachable), or None when it is anything else."""
    import httpx
    import psycopg
    import psycopg_pool

    if isinstance(exc, ServiceUnavailable):
        return exc
    detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return ServiceUnavailable("the case and knowledge index server (Chroma)", detail)
    if isinstance(exc, (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.InterfaceError)):
        return ServiceUnavailable("the sessions database (Postgres)", detail)
    return None


class SessionStore:
    """A checkpointer and its locks; ``close()`` when done."""

    kind = "base"
    saver: Any

    def thread_ids(self) -> list[str]:
        raise NotImplementedError

    @contextmanager
    def turn_lock(self, thread_id: str, wait: bool = True) -> Iterator[bool]:
        """Held while a thread's turn runs; yields False (without the lock) when ``wait`` is off and it is taken."""
        raise NotImplementedError
        yield False

    @contextmanager
    def sweep_lock(self) -> Iterator[bool]:
        raise NotImplementedError
        yield False

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class SqliteSessionStore(SessionStore):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self.saver = SqliteSaver(self._conn, serde=checkpoint_serializer())
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._sweeping = threading.Lock()

    def thread_ids(self) -> list[str]:
        try:
            return [row[0] for row in self._conn.execute("SELECT DISTINCT thread_id FROM checkpoints")]
        except sqlite3.OperationalError:  # a database no consultation has written to yet
            return []

    @contextmanager
    def turn_lock(self, thread_id: str, wait: bool = True) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(thread_id, threading.Lock())
        got = lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                lock.release()

    @contextmanager
    def sweep_lock(self) -> Iterator[bool]:
        got = self._sweeping.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._sweeping.release()

    def close(self) -> None:
        self._conn.close()

    def describe(self) -> str:
        return f"SQLite at {self.path}"


def _thread_key(thread_id: str) -> int:
    """A signed 64-bit advisory-lock key for a thread (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(thread_id.encode()).digest()[:8], "big", signed=True)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


class PostgresSessionStore(SessionStore):
    kind = "postgres"

    def __init__(self, url: str, pool_size: int = 8, connect_timeout_s: float = 10.0, wait_s: float = 10.0) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise SessionStoreError(f"{URL_SETTING}={redact(url)!r} is not a postgresql:// URL "
                                    "(e.g. postgresql://dermagraph@127.0.0.1:5432/dermagraph)")
        self.url = url
        try:  # one plain connection first: its error says what is wrong (refused, unknown database, auth)
            import psycopg

            psycopg.connect(url, connect_timeout=int(connect_timeout_s)).close()
        except Exception as exc:
            raise SessionStoreError(f"the sessions database at {redact(url)} ({URL_SETTING}) cannot be used: "
                                    f"{str(exc).strip() or type(exc).__name__}") from None
        self.pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size), open=False, name="dermagraph-sessions",
                                   timeout=wait_s,  # a turn waits this long for a connection, then says so
                                   check=ConnectionPool.check_connection,  # a server restarted meanwhile: reconnect
                                   kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                           "connect_timeout": int(connect_timeout_s)})
        try:
            self.pool.open(wait=True, timeout=connect_timeout_s)
            self.saver = PostgresSaver(self.pool, serde=checkpoint_serializer())
            with self.pool.connection() as conn:  # two replicas starting together: one migrates, the other waits
                conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
                try:
                    self.saver.setup()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
        except Exception as exc:
            self.pool.close()
            raise SessionStoreError(f"the sessions database at {redact(url)} ({URL_SETTING}) cannot be used: "
                                    f"{str(exc).strip() or type(exc).__name__}") from None

    def thread_ids(self) -> list[str]:
        with self.pool.connection() as conn:
            return [row["thread_id"] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")]

    @contextmanager
    def _advisory(self, key: int, wait: bool) -> Iterator[bool]:
        with self.pool.connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                got = True
            else:
                got = bool(conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()["got"])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def turn_lock(self, thread_id: str, wait: bool = True):
        return self._advisory(_thread_key(thread_id), wait)

    def sweep_lock(self):
        return self._advisory(SWEEP_LOCK_KEY, wait=False)

    def close(self) -> None:
        self.pool.close()

    def describe(self) -> str:
        return f"Postgres at {redact(self.url)}"


def open_session_store(settings: Settings | None = None, db_path: Path | None = None) -> SessionStore:
    """Postgres when ``settings.sessions_url`` is set (and no SQLite file is asked for), else SQLite."""
    s = settings or get_settings()
    if s.sessions_url and db_path is None:
        return PostgresSessionStore(s.sessions_url, pool_size=s.sessions_pool_size)
    return SqliteSessionStore(Path(db_path) if db_path else s.sessions_db)
