"""How long consultations and their uploaded images are kept, and the clean-up that enforces it.

Policy (numbers in ``knowledge.settings``):
* a consultation idle for more than ``session_retention_days`` is deleted: its checkpoints and its
  uploads folder (medical images are not kept longer than they are used);
* a live consultation keeps at most ``max_uploads_per_thread`` images, newest first; the image the
  conversation is about is never removed (``prune_thread_uploads`` runs after every upload);
* upload folders of no consultation (a first turn that never completed) and temporary files of a
  write cut short go after ``ORPHAN_GRACE_S``;
* Gradio's copies of raw uploads (``settings.upload_cache_dir``) go after ``raw_upload_max_age_s``
  (Gradio deletes only what its own process made, so a killed server's leftovers need this).

``clean_sessions`` runs at server start-up and as ``dermagraph sessions clean``. Several replicas on one
Postgres database sweep one at a time (``SessionStore.sweep_lock``; the others skip), and a thread whose
turn is running in any replica is never deleted under it.
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from knowledge.settings import Settings, get_settings

from agents.checkpoints import last_complete_state, thread_config

ORPHAN_GRACE_S = 3600.0  # an upload folder may exist a moment before its thread's first checkpoint
TEMP_SUFFIX = ".tmp.png"
OVERLAY_SUFFIX = ".overlay.png"


def thread_upload_dir(uploads_dir: Path, thread_id: str) -> Path:
    """A thread's uploads folder: named by a hash, so no thread id ever becomes a path."""
    return Path(uploads_dir) / hashlib.sha256(thread_id.encode()).hexdigest()[:16]


def _images(folder: Path) -> list[Path]:
    """Uploaded images of a folder (not overlays or temporary files), newest first."""
    files = [p for p in folder.glob("*.png") if not p.name.endswith((OVERLAY_SUFFIX, TEMP_SUFFIX))]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def _remove(path: Path, report: "CleanReport", dry_run: bool) -> None:
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return
    report.files_removed += 1
    report.bytes_removed += size


def prune_thread_uploads(folder: Path, keep: int, protect: set[str] | None = None,
                         report: "CleanReport | None" = None, dry_run: bool = False) -> "CleanReport":
    """Keep the images in ``protect`` (those a conversation is about) and the newest others up to ``keep``
    in all; remove the rest of one thread's folder, overlays included."""
    report = report or CleanReport()
    protect = {str(Path(p)) for p in (protect or set()) if p}
    images = _images(folder)
    protected = [image for image in images if str(image) in protect]
    others = [image for image in images if str(image) not in protect]
    budget = max(keep - len(protected), 0)
    for image in others[budget:]:
        _remove(image, report, dry_run)
        _remove(image.with_suffix("").with_suffix(OVERLAY_SUFFIX), report, dry_run)
        for heat in image.parent.glob(f"{image.stem}.heat-*{OVERLAY_SUFFIX}"):  # heat maps (agents.explain)
            _remove(heat, report, dry_run)
    report.files_kept += len(protected) + min(budget, len(others))
    return report


@dataclass
class CleanReport:
    threads_removed: int = 0
    threads_kept: int = 0
    folders_removed: int = 0
    files_removed: int = 0
    files_kept: int = 0
    bytes_removed: int = 0
    dry_run: bool = False
    skipped: str = ""  # why nothing was swept (another replica is sweeping)

    def summary(self) -> str:
        if self.skipped:
            return f"not swept: {self.skipped}"
        verb = "would remove" if self.dry_run else "removed"
        return (f"{verb} {self.threads_removed} expired consultation(s), {self.files_removed} file(s) "
                f"({self.bytes_removed / 1e6:.1f} MB) in {self.folders_removed} folder(s); "
                f"kept {self.threads_kept} consultation(s), {self.files_kept} image(s)")


def _age_s(timestamp: str, now: float) -> float:
    return now - datetime.fromisoformat(timestamp).timestamp()


def _remove_folder(folder: Path, report: CleanReport, dry_run: bool) -> None:
    for path in sorted(folder.iterdir()):
        _remove(path, report, dry_run)
    if not dry_run:
        try:
            folder.rmdir()
        except OSError:  # a file arrived meanwhile: leave it for the next clean
            return
    report.folders_removed += 1


def _clean_raw_cache(folder: Path, max_age_s: float, now: float, report: CleanReport, dry_run: bool) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
        if path.is_file() and now - path.stat().st_mtime >= max_age_s:
            _remove(path, report, dry_run)
        elif path.is_dir() and not dry_run:
            try:
                path.rmdir()  # only when empty
            except OSError:
                pass


def clean_sessions(settings: Settings | None = None, db_path: Path | None = None, now: float | None = None,
                   retention_days: float | None = None, keep_per_thread: int | None = None,
                   raw_cache_age_s: float | None = None, dry_run: bool = False) -> CleanReport:
    """Apply the retention policy to the sessions database, the uploads and Gradio's upload cache.

    ``raw_cache_age_s=0`` empties Gradio's cache (at server start-up, when no request can be using it).
    """
    from agents.graph import build_graph
    from agents.session_store import open_session_store

    s = settings or get_settings()
    now = time.time() if now is None else now
    max_age_s = (s.session_retention_days if retention_days is None else retention_days) * 86400.0
    keep = s.max_uploads_per_thread if keep_per_thread is None else keep_per_thread
    if max_age_s < 0 or keep < 1:
        raise ValueError("retention days must be >= 0 and images kept per consultation >= 1")
    report = CleanReport(dry_run=dry_run)
    live: dict[str, set[str]] = {}  # upload folder name -> image paths the conversation still uses
    expired: set[str] = set()
    on_postgres = bool(s.sessions_url) and db_path is None
    if not on_postgres and not Path(db_path or s.sessions_db).is_file():
        store = None  # no consultation yet: nothing to read, and no empty database is made
    else:
        store = open_session_store(s, Path(db_path) if db_path else None)
    try:
        with store.sweep_lock() if store is not None else _nothing() as mine:
            if not mine:
                report.skipped = "another process is sweeping the same sessions database"
                return report
            if store is not None:
                _sweep_threads(store, build_graph(store.saver), s, now, max_age_s, report, live, expired, dry_run)
            _sweep_files(s, now, keep, raw_cache_age_s, report, live, expired, dry_run)
    finally:
        if store is not None:
            store.close()
    return report


@contextmanager
def _nothing():
    yield True


def _sweep_threads(store, graph, s: Settings, now: float, max_age_s: float, report: CleanReport,
                   live: dict[str, set[str]], expired: set[str], dry_run: bool) -> None:
    saver = store.saver
    for thread_id in store.thread_ids():
        head = saver.get_tuple(thread_config(thread_id))
        folder = thread_upload_dir(s.uploads_dir, thread_id)
        if head is None:
            continue
        if _age_s(head.checkpoint["ts"], now) > max_age_s:
            with store.turn_lock(thread_id, wait=False) as idle:
                if not idle:  # a turn is running on it in some replica: it is not idle after all
                    report.threads_kept += 1
                    live[folder.name] = {str(head.checkpoint["channel_values"].get("image_path") or "")}
                    continue
                report.threads_removed += 1
                expired.add(folder.name)
                if not dry_run:
                    saver.delete_thread(thread_id)
            continue
        report.threads_kept += 1
        used = {str(head.checkpoint["channel_values"].get("image_path") or "")}
        complete = last_complete_state(graph, thread_id)
        if complete is not None:
            used.add(str(complete.values.get("image_path") or ""))
        live[folder.name] = used


def _sweep_files(s: Settings, now: float, keep: int, raw_cache_age_s: float | None, report: CleanReport,
                 live: dict[str, set[str]], expired: set[str], dry_run: bool) -> None:
    raw_age = s.raw_upload_max_age_s if raw_cache_age_s is None else raw_cache_age_s
    _clean_raw_cache(s.upload_cache_dir, raw_age, now, report, dry_run)
    _clean_raw_cache(s.batch_dir, raw_age, now, report, dry_run)  # the app's batch runs: images and CSV
    uploads = s.uploads_dir
    if not uploads.is_dir():
        return
    for folder in sorted(p for p in uploads.iterdir() if p.is_dir()):
        for temp in folder.glob(f"*{TEMP_SUFFIX}"):  # a write cut short
            if now - temp.stat().st_mtime > ORPHAN_GRACE_S:
                _remove(temp, report, dry_run)
        if folder.name in live:
            prune_thread_uploads(folder, keep, live[folder.name], report, dry_run)
            continue
        newest = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
        if folder.name in expired or now - newest > ORPHAN_GRACE_S:  # gone with its thread, or never had one
            _remove_folder(folder, report, dry_run)


def touch(path: Path) -> None:
    """Mark an upload as used now (the quota keeps the newest)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        pass
