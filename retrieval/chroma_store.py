"""Where the Chroma collections live: embedded in a folder (the default) or on a Chroma server.

Embedded (``DERMAGRAPH_CHROMA_URL`` unset): a ``PersistentClient`` per index folder under ``var/index``;
each index keeps its manifest in a file beside the store (``knowledge.artifacts``).

Server (``DERMAGRAPH_CHROMA_URL=http://127.0.0.1:8000``, or ``serve --chroma-url``): every process
talks to one ``chroma run`` server through ``chromadb.HttpClient``. A server has no folders to swap,
so a build writes a new *generation*: collections named ``<name>-g<stamp>``, created with
``dermagraph_complete: false``; only after every record is in does the build set the collection's
metadata to the manifest and ``dermagraph_complete: true`` (the commit). Readers open the newest
complete generation, so a build cut short leaves the previous one serving, and staleness checks read
the manifest from the metadata exactly as they read it from a file. Older generations are deleted
after a commit (never a newer one: another process may be building it).
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable
from urllib.parse import urlsplit

from knowledge.artifacts import ArtifactError, Manifest
from knowledge.settings import Settings, get_settings

URL_SETTING = "DERMAGRAPH_CHROMA_URL"
GENERATION_SEP = "-g"
COMPLETE_KEY = "dermagraph_complete"
MANIFEST_KEY = "dermagraph_manifest"


class ChromaUnavailable(ArtifactError):
    """The Chroma server named by the setting cannot be reached (or the setting is not a URL)."""


def server_url(settings: Settings | None = None) -> str | None:
    return (settings or get_settings()).chroma_url


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def parse_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host:port`` -> (host, port, ssl); anything else is a clear error naming the setting."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ChromaUnavailable(f"{URL_SETTING}={url!r} is not a Chroma server URL; expected http://HOST:PORT "
                                "(e.g. http://127.0.0.1:8000 for `chroma run --host 127.0.0.1 --port 8000`)")
    return parts.hostname, port or (443 if parts.scheme == "https" else 8000), parts.scheme == "https"


def connect(url: str):
    """A client of the server at ``url``, checked with a heartbeat: a wrong URL fails here, not mid-search."""
    import chromadb

    host, port, ssl = parse_url(url)
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_chroma_settings())
        client.heartbeat()
    except Exception as exc:  # chromadb raises ValueError, httpx errors or its own, depending on the failure
        raise ChromaUnavailable(f"the Chroma server at {url} ({URL_SETTING}) cannot be reached ({str(exc).rstrip('.')}). Start it "
                                "(`chroma run --path DIR --host 127.0.0.1 --port N`) or unset the setting to use "
                                "the embedded store under var/index") from None
    return client


def embedded_client(path: Any):
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


# --- generations on a server ------------------------------------------------------------------------------


def new_stamp() -> str:
    """UTC date, time and microseconds: later builds sort after earlier ones."""
    now = time.time_ns()
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now // 10**9)) + f"{now // 1000 % 10**6:06d}"


def generation_name(name: str, stamp: str) -> str:
    return f"{name}{GENERATION_SEP}{stamp}"


def _split(collection_name: str) -> tuple[str, str] | None:
    name, sep, stamp = collection_name.rpartition(GENERATION_SEP)
    return (name, stamp) if sep and stamp.isdigit() else None


def create_generation(client, name: str, stamp: str, metadata: dict[str, Any] | None = None):
    """A new, not yet complete, collection of generation ``stamp``."""
    return client.create_collection(generation_name(name, stamp), embedding_function=None,
                                    metadata={**(metadata or {}), COMPLETE_KEY: False})


def commit_generation(collection, manifest: Manifest) -> None:
    """Mark a generation complete, with its manifest: from now on readers open it."""
    collection.modify(metadata={COMPLETE_KEY: True, MANIFEST_KEY: manifest.model_dump_json()})


def _generations(client, name: str) -> list[tuple[str, Any]]:
    found = []
    for collection in client.list_collections():
        split = _split(collection.name)
        if split and split[0] == name:
            found.append((split[1], collection))
    return sorted(found, key=lambda pair: pair[0])


def current_generation(client, name: str) -> tuple[str, Manifest] | None:
    """(stamp, manifest) of the newest complete generation of ``name``; None when there is none."""
    for stamp, collection in reversed(_generations(client, name)):
        metadata = collection.metadata or {}
        if metadata.get(COMPLETE_KEY) and MANIFEST_KEY in metadata:
            return stamp, Manifest.model_validate(json.loads(metadata[MANIFEST_KEY]))
    return None


def drop_older_generations(client, names: Iterable[str], keep: str) -> int:
    """Delete every generation of ``names`` older than ``keep`` (complete or abandoned); returns how many."""
    dropped = 0
    for name in names:
        for stamp, collection in _generations(client, name):
            if stamp < keep:
                try:
                    client.delete_collection(collection.name)
                    dropped += 1
                except Exception:  # another process dropped it first
                    pass
    return dropped


def require_generation(client, name: str, url: str) -> tuple[str, Manifest]:
    current = current_generation(client, name)
    if current is None:
        raise ArtifactError(f"the Chroma server at {url} has no complete {name!r} collection; "
                            f"run `dermagraph index build` with {URL_SETTING} set")
    return current
