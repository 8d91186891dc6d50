"""Corpus integrity: the knowledge index is built only from documents a person has reviewed.

The review record sits beside the corpus folder, not in it (``knowledge/corpus_review.json`` for
``knowledge/corpus/``): whoever can drop a file into the corpus folder cannot also vouch for it. Each
entry names a file, its language and id, the sha256 of its bytes, its references, who reviewed it and
when. ``verify_corpus`` lists every file that is not in the record or whose bytes changed since the
review; ``dermagraph build`` and ``dermagraph index build`` refuse to index such a corpus, naming each file
(a running app keeps serving the last good index). ``dermagraph corpus review --reviewer NAME`` records a
review after a person has read the changes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Iterable

from knowledge.artifacts import atomic_write_text
from knowledge.corpus import ZH_FOLDER, CorpusError, corpus_files, parse_document
from knowledge.settings import get_settings

REVIEW_FORMAT = 1


def review_file_for(corpus_dir: Path | None = None) -> Path:
    """``<parent>/<corpus folder name>_review.json``: outside the folder it vouches for."""
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    return root.parent / f"{root.name}_review.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_review(review_file: Path) -> dict[str, dict]:
    """{relative path: entry}; a missing record is an empty one."""
    if not review_file.is_file():
        return {}
    try:
        raw = json.loads(review_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{review_file}: unreadable review record ({exc})") from None
    if raw.get("format") != REVIEW_FORMAT or not isinstance(raw.get("documents"), list):
        raise CorpusError(f"{review_file}: not a corpus review record (format {REVIEW_FORMAT})")
    return {entry["path"]: entry for entry in raw["documents"]}


def verify_corpus(corpus_dir: Path | None = None, review_file: Path | None = None) -> list[str]:
    """Every file that may not be indexed, with the reason (empty: every document is reviewed as it is)."""
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    record_path = Path(review_file) if review_file is not None else review_file_for(root)
    record = read_review(record_path)
    problems = []
    files = corpus_files(root)
    for path in files:
        key = _key(path, root)
        entry = record.get(key)
        if entry is None:
            problems.append(f"{key}: not in the review record {record_path.name} (an unreviewed document is never indexed)")
        elif entry.get("sha256") != _sha256(path):
            problems.append(f"{key}: changed since it was reviewed on {entry.get('reviewed_on', '?')} "
                            f"by {entry.get('reviewer', '?')} (sha256 differs)")
    present = {_key(p, root) for p in files}
    problems += [f"{key}: reviewed but missing from the corpus folder" for key in sorted(set(record) - present)]
    return problems


def check_reviewed(corpus_dir: Path | None = None, review_file: Path | None = None) -> None:
    problems = verify_corpus(corpus_dir, review_file)
    if problems:
        raise CorpusError(
            f"{len(problems)} knowledge document(s) refused: the index is built only from reviewed documents.\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nRead the changes, then record the review with `dermagraph corpus review --reviewer NAME`."
        )


def record_review(reviewer: str, corpus_dir: Path | None = None, review_file: Path | None = None,
                  paths: Iterable[Path] | None = None, today: _dt.date | None = None) -> list[str]:
    """Record that ``reviewer`` has read ``paths`` (default: every new or changed file); returns their keys.

    A file must parse as a document first: a malformed one is never vouched for.
    """
    if not reviewer.strip():
        raise ValueError("a review needs the reviewer's name")
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    record_path = Path(review_file) if review_file is not None else review_file_for(root)
    record = read_review(record_path)
    chosen = [Path(p).resolve() for p in paths] if paths is not None else None
    changed = []
    for path in corpus_files(root):
        key = _key(path, root)
        if chosen is not None and path.resolve() not in chosen:
            continue
        digest = _sha256(path)
        if key in record and record[key].get("sha256") == digest:
            continue
        lang = "zh" if Path(key).parts[0] == ZH_FOLDER else "en"
        doc, problems = parse_document(path, root, lang)  # type: ignore[arg-type]
        if doc is None:
            raise CorpusError("cannot record a review of a malformed document:\n" + "\n".join(f"  - {p}" for p in problems))
        record[key] = {"path": key, "id": doc.id, "lang": lang, "sha256": digest, "references": list(doc.references),
                       "reviewer": reviewer.strip(), "reviewed_on": (today or _dt.date.today()).isoformat()}
        changed.append(key)
    present = {_key(p, root) for p in corpus_files(root)}
    record = {k: v for k, v in record.items() if k in present}
    body = {"format": REVIEW_FORMAT, "documents": [record[k] for k in sorted(record)]}
    atomic_write_text(record_path, json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    return changed
