"""The dermatology knowledge corpus: markdown documents with YAML front-matter, loaded and checked.

Each document is one ``*.md`` file under ``settings.corpus_dir`` (``classes/`` holds the seven
classes x five topics, ``general/`` everything else; ``README.md`` files describe the format and
are not documents)::

    ---
    id: mel-dermoscopy
    title: "Melanoma: dermoscopic features"
    topics: [dermoscopy]
    classes: [mel]
    references:
      - "Argenziano G, et al. ... J Am Acad Dermatol. 2003;48(5):679-693."
    ---
    # Melanoma: dermoscopic features

    ## Section heading
    Paragraphs...

The ``##`` sections are the units the knowledge index retrieves. Loading checks everything the
index and the composer rely on and reports every problem at once, each line naming its file, so a
bad document fails the build before any index is touched. Class names in other languages come from
``knowledge.taxonomy``; documents only name class codes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.settings import get_settings
from knowledge.taxonomy import CODES, Language, display_name, get_class

# What a document can be about; `--topic` filters and the eval's per-topic breakdown use these.
TOPICS: dict[str, str] = {
    "overview": "what a lesion class is",
    "dermoscopy": "dermoscopic structures, patterns and how to see them",
    "epidemiology": "who gets it, how often, risk factors",
    "differential": "what else it could be and how to tell apart",
    "management": "treatment, follow-up and referral urgency",
    "algorithm": "scoring rules and checklists (ABCDE, 7-point, 3-point, pattern analysis)",
    "prevention": "sun protection and skin self-examination",
    "referral": "when and how urgently to see a doctor",
    "imaging": "photographing lesions, image quality, digital follow-up",
    "diagnosis": "biopsy, histopathology and how a diagnosis is confirmed",
    "dataset": "HAM10000 and what it does and does not contain",
    "assistant": "how to read dermagraph's output and its limits",
}

# Every class has one document per class topic, with id "{code}-{topic}" (e.g. "mel-dermoscopy").
CLASS_TOPICS: tuple[str, ...] = ("overview", "dermoscopy", "epidemiology", "differential", "management")

REQUIRED_FIELDS: tuple[str, ...] = ("id", "title", "topics", "classes", "references")
_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


class CorpusError(ValueError):
    """One or more documents are malformed; the message lists every problem, each naming its file."""


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    topics: tuple[str, ...]
    classes: tuple[str, ...]
    references: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]  # (heading, text), in file order: the retrieval chunks
    path: Path
    lang: Language = "en"  # the Chinese twin of a document has the same id, sections and references

    def class_names(self, lang: Language = "en") -> list[str]:
        """Display names of the document's classes (from the taxonomy, never stored in documents)."""
        return [display_name(code, lang) for code in self.classes]

    @property
    def text(self) -> str:
        return "\n\n".join(f"{heading}\n{body}" for heading, body in self.sections)


LANGUAGES: tuple[Language, ...] = ("en", "zh")
ZH_FOLDER = "zh"  # the Chinese twins mirror the English layout under <corpus>/zh/


def corpus_files(corpus_dir: Path | None = None, lang: Language | None = None) -> list[Path]:
    """Every document file under the corpus folder (of one language, or both), in a stable order."""
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found")
    files = sorted(p for p in root.rglob("*.md") if p.name.lower() != "readme.md")
    if lang is None:
        return files
    in_zh = [p.relative_to(root).parts[0] == ZH_FOLDER for p in files]
    return [p for p, zh in zip(files, in_zh) if zh == (lang == "zh")]


def corpus_fingerprint(corpus_dir: Path | None = None) -> str:
    """Hash of every document's path and bytes: changes whenever the index would change."""
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    h = hashlib.sha256()
    for path in corpus_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _string_list(meta: dict, key: str, problems: list[str], where: str, allow_empty: bool) -> tuple[str, ...]:
    value = meta.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: '{key}' must be a list of non-empty strings, got {value!r}")
        return ()
    if not value and not allow_empty:
        problems.append(f"{where}: '{key}' is empty")
    return tuple(v.strip() for v in value)


def _split_sections(body: str, title: str, where: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """The ``##`` sections of the body, after its single ``#`` title line."""
    lines = body.strip("\n").splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines or not lines[0].startswith("# "):
        problems.append(f"{where}: the body must start with a '# {title}' title line")
        return ()
    heading_title = lines[0][2:].strip()
    if heading_title != title:
        problems.append(f"{where}: '# {heading_title}' does not match the front-matter title {title!r}")
    sections: list[tuple[str, list[str]]] = []
    for line_no, line in enumerate(lines[1:], start=2):
        if line.startswith("# "):
            problems.append(f"{where}: body line {line_no}: a second '#' title; use '##' for sections")
        elif line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip():
            problems.append(f"{where}: body line {line_no}: text before the first '##' section")
            break
    if not sections:
        problems.append(f"{where}: no '##' sections (each section is a retrieval chunk)")
    result = []
    for heading, text_lines in sections:
        text = "\n".join(text_lines).strip()
        if not heading:
            problems.append(f"{where}: a '##' section has no heading")
        if not text:
            problems.append(f"{where}: section {heading!r} is empty")
        result.append((heading, text))
    return tuple(result)


def parse_document(path: Path, root: Path | None = None, lang: Language = "en") -> tuple[Document | None, list[str]]:
    """One document and the problems found in it (a document is returned only when there are none)."""
    path = Path(path)
    where = str(path.relative_to(root)) if root is not None else str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{where}: cannot read ({exc})"]
    match = _FRONT_MATTER.match(raw.replace("\r\n", "\n"))
    if not match:
        return None, [f"{where}: no YAML front-matter (the file must start with '---', the fields, then '---')"]
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return None, [f"{where}: front-matter is not valid YAML ({' '.join(str(exc).split())})"]
    if not isinstance(meta, dict):
        return None, [f"{where}: front-matter must be a mapping of fields"]

    problems: list[str] = []
    missing = [k for k in REQUIRED_FIELDS if k not in meta]
    if missing:
        problems.append(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(meta) - set(REQUIRED_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; expected {', '.join(REQUIRED_FIELDS)}")
    doc_id, title = meta.get("id"), meta.get("title")
    if "id" in meta and not (isinstance(doc_id, str) and _ID_PATTERN.match(doc_id)):
        problems.append(f"{where}: id {doc_id!r} must be lowercase words joined by '-' (e.g. mel-dermoscopy)")
    if "title" in meta and not (isinstance(title, str) and title.strip()):
        problems.append(f"{where}: title must be a non-empty string")
    topics = _string_list(meta, "topics", problems, where, allow_empty=False) if "topics" in meta else ()
    classes = _string_list(meta, "classes", problems, where, allow_empty=True) if "classes" in meta else ()
    references = _string_list(meta, "references", problems, where, allow_empty=False) if "references" in meta else ()
    for topic in topics:
        if topic not in TOPICS:
            problems.append(f"{where}: unknown topic {topic!r}; expected one of {', '.join(TOPICS)}")
    for code in classes:
        if code not in CODES:
            problems.append(f"{where}: unknown class code {code!r}; expected one of {', '.join(CODES)}")
    sections = _split_sections(raw[match.end():], str(title).strip() if title else "", where, problems)
    if problems:
        return None, problems
    doc = Document(
        id=doc_id, title=title.strip(), topics=topics, classes=classes, references=references,
        sections=sections, path=path, lang=lang,
    )
    return doc, []


def load_corpus(corpus_dir: Path | None = None, lang: Language = "en") -> list[Document]:
    """Every document of one language, sorted by id; raises ``CorpusError`` listing every problem in every file.

    ``lang="zh"`` loads the Chinese twins and checks each against its English document (same id, topics,
    classes, references and number of sections, so passage ``mel-dermoscopy#2`` is the same text in both);
    an English document without a Chinese twin is a problem too: Chinese is not optional.
    """
    root = Path(corpus_dir) if corpus_dir is not None else get_settings().corpus_dir
    files = corpus_files(root, lang)
    if not files:
        raise CorpusError(f"{root}: no documents (*.md) found" + (" in zh/" if lang == "zh" else ""))
    docs: list[Document] = []
    problems: list[str] = []
    first_seen: dict[str, Path] = {}
    for path in files:
        doc, found = parse_document(path, root, lang)
        problems += found
        if doc is None:
            continue
        if doc.id in first_seen:
            problems.append(
                f"{path.relative_to(root)}: duplicate id {doc.id!r} (also in {first_seen[doc.id].relative_to(root)})"
            )
            continue
        first_seen[doc.id] = path
        docs.append(doc)
    if lang == "zh" and not problems:
        problems += _twin_problems(docs, load_corpus(root, "en"), root)
    if problems:
        raise CorpusError(f"{len(problems)} problem(s) in the knowledge corpus ({root}):\n" + "\n".join(f"  - {p}" for p in problems))
    return sorted(docs, key=lambda d: d.id)


def _twin_problems(zh_docs: list[Document], en_docs: list[Document], root: Path) -> list[str]:
    english = {d.id: d for d in en_docs}
    problems = []
    for doc in zh_docs:
        where = doc.path.relative_to(root)
        twin = english.get(doc.id)
        if twin is None:
            problems.append(f"{where}: no English document with id {doc.id!r}")
            continue
        for name in ("topics", "classes", "references"):
            if getattr(doc, name) != getattr(twin, name):
                problems.append(f"{where}: {name} differ from {twin.path.relative_to(root)}")
        if len(doc.sections) != len(twin.sections):
            problems.append(f"{where}: {len(doc.sections)} sections, its English twin has {len(twin.sections)}")
    missing = sorted(set(english) - {d.id for d in zh_docs})
    if missing:
        problems.append(f"{ZH_FOLDER}/: no Chinese twin for {', '.join(missing)}")
    return problems


def load_bilingual_corpus(corpus_dir: Path | None = None) -> dict[Language, list[Document]]:
    """Both languages, checked against each other."""
    return {"en": load_corpus(corpus_dir, "en"), "zh": load_corpus(corpus_dir, "zh")}


def class_document_id(code: str, topic: str) -> str:
    if topic not in CLASS_TOPICS:
        raise ValueError(f"unknown class topic {topic!r}; expected one of {', '.join(CLASS_TOPICS)}")
    return f"{get_class(code).code}-{topic}"


def get_document(doc_id: str, docs: list[Document] | None = None) -> Document:
    for doc in docs if docs is not None else load_corpus():
        if doc.id == doc_id:
            return doc
    raise KeyError(f"no knowledge document with id {doc_id!r}")
