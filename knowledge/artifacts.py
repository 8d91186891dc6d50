"""Artifacts and their manifests: what was built, from which data and config, and how well it did.

Every shipped or built artifact (encoder weights, segmentation model, embeddings, indexes) sits in
its own folder with a ``manifest.json``. ``is_stale`` compares it with what the current code and
data would produce, so stale artifacts are rebuilt rather than silently used. Writes are atomic
(temp file, then rename): a crash leaves the old file or the new one, never half of either. A
folder is built in ``staging_dir(target)`` and put in place with ``atomic_replace_dir``.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from knowledge.settings import REPO_ROOT

MANIFEST_NAME = "manifest.json"


class ArtifactError(RuntimeError):
    """An artifact is missing, stale or unreadable; the message says how to rebuild it."""


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; artifacts are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
        return False  # a filesystem without exchange: fall back to two renames
    raise OSError(err, os.strerror(err), str(a))


def staging_dir(target: Path) -> Path:
    """A fresh, empty folder beside ``target`` to build a replacement in (same filesystem, hidden name)."""
    target = Path(target)
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)  # what a killed build left behind
    staging.mkdir(parents=True)
    return staging


def atomic_replace_dir(staging: Path, target: Path) -> Path:
    """Put the fully written folder ``staging`` in place of ``target``: readers see the old or the new one.

    On Linux the two folders are exchanged in one system call, so ``target`` never disappears; a
    killed process leaves the old folder in place and at most a leftover staging folder (cleared by
    ``staging_dir`` next time). Elsewhere ``target`` is renamed aside first, and a replacement cut
    short between the two renames is undone by the next call.
    """
    staging, target = Path(staging), Path(target)
    if not staging.is_dir():
        raise ArtifactError(f"{staging}: no staging folder to put in place of {target}")
    retired = target.with_name(f".{target.name}.old")
    if not target.exists() and retired.is_dir():
        retired.rename(target)  # a replacement interrupted between its two renames: the old one comes back
    if target.exists() and _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old folder
        return target
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target


def config_hash(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Manifest(BaseModel):
    name: str
    kind: str
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    git_commit: str = Field(default_factory=git_commit)
    data_fingerprint: str
    split_fingerprint: str | None = None
    config: dict[str, Any]
    config_hash: str = ""
    files: dict[str, str] = Field(default_factory=dict)  # relative name -> sha256
    metrics: dict[str, Any] = Field(default_factory=dict)
    notes: str = ""

    def model_post_init(self, __context: Any) -> None:
        if not self.config_hash:
            self.config_hash = config_hash(self.config)


def write_manifest(folder: Path, manifest: Manifest, hash_files: bool = True) -> Path:
    folder = Path(folder)
    if hash_files:
        manifest.files = {
            p.name: file_sha256(p)
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
        }
    return atomic_write_text(folder / MANIFEST_NAME, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; the artifact has not been built")
    try:
        return Manifest.model_validate_json(path.read_text())
    except ValueError as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc})") from None


def staleness(
    folder: Path,
    config: dict[str, Any],
    data_fingerprint: str | None = None,
    split_fingerprint: str | None = None,
    verify_files: bool = False,
) -> list[str]:
    """Reasons the artifact in ``folder`` does not match what would be built now (empty: up to date)."""
    try:
        manifest = read_manifest(folder)
    except ArtifactError as exc:
        return [str(exc)]
    reasons = manifest_staleness(manifest, config, data_fingerprint, split_fingerprint)
    for name, digest in manifest.files.items():
        path = Path(folder) / name
        if not path.is_file():
            reasons.append(f"{name} missing")
        elif verify_files and file_sha256(path) != digest:
            reasons.append(f"{name} does not match its recorded hash")
    return reasons


def manifest_staleness(
    manifest: Manifest,
    config: dict[str, Any],
    data_fingerprint: str | None = None,
    split_fingerprint: str | None = None,
) -> list[str]:
    """How a manifest (from a folder or a Chroma collection's metadata) differs from what would be built now."""
    reasons = []
    if manifest.config_hash != config_hash(config):
        changed = sorted(
            k for k in set(config) | set(manifest.config) if config.get(k) != manifest.config.get(k)
        )
        reasons.append(f"config changed ({', '.join(changed) or 'values'})")
    if data_fingerprint is not None and manifest.data_fingerprint != data_fingerprint:
        reasons.append("training data changed")
    if split_fingerprint is not None and manifest.split_fingerprint not in (None, split_fingerprint):
        reasons.append("split changed")
    return reasons


def split_fingerprint(assignment: dict[str, str]) -> str:
    h = hashlib.sha256()
    for image_id in sorted(assignment):
        h.update(f"{image_id},{assignment[image_id]}\n".encode())
    return h.hexdigest()[:16]
