"""The knowledge text index: corpus sections in Chroma, BM25 beside it, fused by reciprocal rank.

Build (``build_knowledge_index``, also ``dermagraph index build``): every ``##`` section of every
corpus document becomes one passage (``mel-dermoscopy#2``), embedded with all-MiniLM-L6-v2 as
"title. heading. text" and stored in a persistent Chroma collection with its metadata (document,
title, heading, classes, topics, references). Chroma never embeds anything itself
(``embedding_function=None``). Each build writes a fresh store folder and then the manifest, which
names it: the manifest write is the commit, so a failed build leaves the previous index intact.
The manifest records the corpus fingerprint, so editing a document makes the index stale.
With ``DERMAGRAPH_CHROMA_URL`` set, the two collections live on a Chroma server instead, as one generation
whose manifest is the English collection's metadata (``retrieval.chroma_store``).

Every document has a Chinese twin (same id, same sections, ``knowledge/corpus/zh/``): passage
``mel-dermoscopy#2`` exists in both languages, and an answer quotes the passage in the answer's language.
The embedder is English-only, so a Chinese passage is stored with its English twin's vector.

Search (``KnowledgeIndex.search``): the question is read (Chinese translated, abbreviations spelled
out, lay words expanded), then ranked and fused with reciprocal rank fusion:
  - dense: cosine similarity in Chroma, honouring the class/topic filters as a ``where`` clause;
  - lexical: BM25 over title + heading + text, same filters;
  - for a Chinese question, also BM25 over the Chinese passages on the question's own words, twice: jieba
    words and character bigrams (``knowledge.tokenize``); the English rankings reach the Chinese passages
    through the twins. Chosen on 148 Chinese dev questions (docs/knowledge.md): recall@5 0.83 with the
    translation alone, 0.94 with both Chinese rankers.
Each document contributes at most one passage to a result list, so the answer draws on several
documents. Both choices were made on the dev questions of the ``rag`` eval (see docs/knowledge.md):
fusion beat either ranker alone; boosting the classes a question names, and allowing two passages per
document, did not help.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from knowledge.artifacts import ArtifactError, Manifest, file_sha256, manifest_staleness, read_manifest, staleness, write_manifest
from knowledge.corpus import TOPICS, CorpusError, Document, corpus_fingerprint, load_bilingual_corpus
from knowledge.corpus_review import check_reviewed
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES, get_class
from retrieval.chroma_store import (commit_generation, connect, create_generation, current_generation, drop_older_generations,
                                    embedded_client, generation_name, new_stamp, require_generation, server_url)
from retrieval.knowledge_query import KnowledgeQuery, understand_query
from knowledge.tokenize import tokenize_zh, tokenize_zh_bigrams
from retrieval.lexical import Bm25Ranker
from retrieval.rank_fusion import RRF_K, reciprocal_rank_fusion
from models.sentence_encoder import MODEL_NAME, embed_query, embed_sentences, model_version

COLLECTION = "knowledge"
ZH_COLLECTION = "knowledge_zh"  # the Chinese twins (stored with their English twin's vector; searched lexically)
STORE_PREFIX = "chroma-"
CANDIDATE_DEPTH = 50  # passages each ranker contributes to the fusion
MAX_PASSAGES_PER_DOC = 1  # in one result list, so one document cannot crowd out the others


def index_config() -> dict:
    """What the index depends on besides the corpus; a change here makes it stale."""
    return {
        "embedding_model": MODEL_NAME,
        "embedding_model_version": model_version(),
        "chunking": "one passage per ## section",
        "embedded_text": "title. heading. text",
        "languages": ["en", "zh"],
        "zh_vectors": "the English twin's",
        "zh_lexical": "jieba search mode + glossary terms; character bigrams",
        "format": 3,
    }


def default_index_dir() -> Path:
    return get_settings().index_dir / "knowledge"


@dataclass(frozen=True)
class Passage:
    passage_id: str  # "{doc_id}#{n}", n = 1-based section number
    doc_id: str
    title: str
    section: str
    text: str
    score: float  # fused RRF score (higher is better); comparable only within one search
    references: tuple[str, ...]
    classes: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    lang: str = "en"

    @property
    def lexical_text(self) -> str:
        return f"{self.title}\n{self.section}\n{self.text}"


def passages_of(doc: Document) -> list[Passage]:
    return [
        Passage(
            passage_id=f"{doc.id}#{n}", doc_id=doc.id, title=doc.title, section=heading, text=text, score=0.0,
            references=doc.references, classes=doc.classes, topics=doc.topics, lang=doc.lang,
        )
        for n, (heading, text) in enumerate(doc.sections, start=1)
    ]


def embedded_text(p: Passage) -> str:
    return f"{p.title}. {p.section}. {p.text}"


def _metadata(p: Passage, position: int) -> dict:
    meta: dict = {
        "doc_id": p.doc_id, "title": p.title, "section": p.section, "position": position, "lang": p.lang,
        "classes": ",".join(p.classes), "topics": ",".join(p.topics), "references": json.dumps(list(p.references)),
    }
    meta.update({f"class_{c}": True for c in p.classes})  # booleans: Chroma filters on scalars only
    meta.update({f"topic_{t}": True for t in p.topics})
    return meta


def _passage_from_record(text: str, meta: dict) -> Passage:
    return Passage(
        passage_id=f"{meta['doc_id']}#{meta['position']}", doc_id=meta["doc_id"], title=meta["title"],
        section=meta["section"], text=text, score=0.0, references=tuple(json.loads(meta["references"])),
        classes=tuple(filter(None, meta["classes"].split(","))), topics=tuple(filter(None, meta["topics"].split(","))),
        lang=meta.get("lang", "en"),
    )



def _store_of(folder: Path) -> Path:
    manifest = read_manifest(folder)
    stores = {Path(name).parts[0] for name in manifest.files if name.startswith(STORE_PREFIX)}
    if len(stores) != 1:
        raise ArtifactError(f"{folder}: manifest names no Chroma store; rebuild with `dermagraph index build`")
    return folder / stores.pop()


def stale_reasons(index_dir: Path | None = None, corpus_dir: Path | None = None) -> list[str]:
    """Why the index in ``index_dir`` does not match the corpus and config now (empty: up to date)."""
    url = server_url()
    if url:
        current = current_generation(connect(url), COLLECTION)
        if current is None:
            return [f"no complete {COLLECTION!r} collection on the Chroma server at {url}"]
        manifest = current[1]
        reasons = manifest_staleness(manifest, index_config())
    else:
        folder = Path(index_dir) if index_dir is not None else default_index_dir()
        reasons = staleness(folder, index_config())
        if reasons:
            return reasons
        manifest = read_manifest(folder)
    if not reasons and manifest.data_fingerprint != corpus_fingerprint(corpus_dir):
        reasons.append("knowledge corpus changed")
    return reasons


def build_knowledge_index(
    index_dir: Path | None = None, corpus_dir: Path | None = None, progress: bool = True
) -> Manifest:
    """(Re)build the index from the corpus; the corpus is validated before anything is written.

    Only reviewed documents are indexed (``knowledge.corpus_review``): an unlisted or changed file stops the
    build with a message naming it.
    """
    folder = Path(index_dir) if index_dir is not None else default_index_dir()
    started = time.perf_counter()
    check_reviewed(corpus_dir)  # raises CorpusError naming every unreviewed file, before any write
    corpus = load_bilingual_corpus(corpus_dir)  # raises CorpusError listing every problem, before any write
    docs = corpus["en"]
    fingerprint = corpus_fingerprint(corpus_dir)
    english = [p for doc in docs for p in passages_of(doc)]
    en_vectors = embed_sentences([embedded_text(p) for p in english], progress=progress)
    row = {p.passage_id: i for i, p in enumerate(english)}
    chinese = [p for doc in corpus["zh"] for p in passages_of(doc)]
    zh_vectors = en_vectors[[row[p.passage_id] for p in chinese]]  # the twin's vector

    url = server_url()
    if url:
        client, stamp = connect(url), new_stamp()
    else:
        folder.mkdir(parents=True, exist_ok=True)
        store = folder / f"{STORE_PREFIX}{fingerprint}-{time.strftime('%Y%m%d%H%M%S')}-{time.perf_counter_ns() % 10**6:06d}"
        client = embedded_client(store)
    collections = {}
    try:
        batch = max(1, min(client.get_max_batch_size(), 1000))
        for name, chunk_passages, chunk_vectors in ((COLLECTION, english, en_vectors), (ZH_COLLECTION, chinese, zh_vectors)):
            metadata = {"hnsw:space": "cosine", "hnsw:search_ef": 128}
            if url:
                collection = create_generation(client, name, stamp, metadata)
            else:
                collection = client.create_collection(name, metadata=metadata, embedding_function=None)
            collections[name] = collection
            for start in range(0, len(chunk_passages), batch):
                chunk = chunk_passages[start : start + batch]
                collection.add(
                    ids=[p.passage_id for p in chunk],
                    embeddings=chunk_vectors[start : start + batch],
                    documents=[p.text for p in chunk],
                    metadatas=[_metadata(p, int(p.passage_id.rsplit("#", 1)[1])) for p in chunk],
                )
        manifest = Manifest(
            name="knowledge",
            kind="knowledge-text-index",
            data_fingerprint=fingerprint,
            config=index_config(),
            metrics={
                "documents": len(docs),
                "passages": len(english),
                "passages_zh": len(chinese),
                "build_seconds": round(time.perf_counter() - started, 2),
            },
            notes="Chroma store + BM25 (built in memory at open) over the knowledge corpus sections.",
        )
        if url:  # the English collection carries the generation's manifest: the commit
            commit_generation(collections[COLLECTION], manifest)
            drop_older_generations(client, [COLLECTION, ZH_COLLECTION], stamp)
            return manifest
    finally:
        client.close()
    sqlite = store / "chroma.sqlite3"
    manifest.files = {f"{store.name}/{sqlite.name}": file_sha256(sqlite)}
    write_manifest(folder, manifest, hash_files=False)  # the commit point: now the new store is current
    for old in folder.glob(f"{STORE_PREFIX}*"):
        if old != store and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def _where(classes: Sequence[str] | None, topics: Sequence[str] | None) -> dict | None:
    clauses = []
    for key, values in (("class", classes), ("topic", topics)):
        if values:
            terms = [{f"{key}_{v}": True} for v in values]
            clauses.append(terms[0] if len(terms) == 1 else {"$or": terms})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _check_filters(classes: Iterable[str] | None, topics: Iterable[str] | None) -> tuple[list[str], list[str]]:
    class_list = [get_class(c).code for c in (classes or [])]  # KeyError names the valid codes
    topic_list = list(topics or [])
    unknown = [t for t in topic_list if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic(s) {', '.join(unknown)}; expected one of {', '.join(TOPICS)}")
    return class_list, topic_list


class KnowledgeIndex:
    """Hybrid search over the knowledge corpus. Open once per process; ``search`` is thread-safe."""

    def __init__(self, folder: Path, client, collection, passages: list[Passage], manifest: Manifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self._client = client
        self._collection = collection
        self.passages = [p for p in passages if p.lang == "en"]  # English passages; Chinese twins in ``twins``
        self.twins = {p.passage_id: p for p in passages if p.lang == "zh"}
        self._row = {p.passage_id: i for i, p in enumerate(self.passages)}
        self._bm25 = Bm25Ranker([p.lexical_text for p in self.passages])
        # Chinese passages in the English order, so one row index and one filter mask serve both.
        zh_texts = [self.twins[p.passage_id].lexical_text if p.passage_id in self.twins else "" for p in self.passages]
        self._zh_rankers = {"bm25_zh": Bm25Ranker(zh_texts, tokenizer=tokenize_zh),
                            "bm25_zh_bigram": Bm25Ranker(zh_texts, tokenizer=tokenize_zh_bigrams)}
        self._class_mask = {c: np.array([c in p.classes for p in self.passages]) for c in CODES}
        self._topic_mask = {t: np.array([t in p.topics for p in self.passages]) for t in TOPICS}

    def in_language(self, passage: Passage, lang: str) -> Passage:
        """The passage in ``lang`` (its Chinese twin, or itself), keeping its score."""
        if lang != "zh" or passage.lang == "zh" or passage.passage_id not in self.twins:
            return passage
        return _with_score(self.twins[passage.passage_id], passage.score)

    @classmethod
    def open(
        cls, index_dir: Path | None = None, corpus_dir: Path | None = None, build_if_needed: bool = True
    ) -> "KnowledgeIndex":
        """Open the index, building it first when it is missing or stale (unless told not to)."""
        folder = Path(index_dir) if index_dir is not None else default_index_dir()
        reasons = stale_reasons(folder, corpus_dir)
        if reasons:
            if not build_if_needed:
                raise ArtifactError(
                    f"knowledge index at {folder} is not usable ({'; '.join(reasons)}); run `dermagraph index build`"
                )
            try:
                build_knowledge_index(folder, corpus_dir, progress=False)
            except CorpusError as exc:
                if reasons != ["knowledge corpus changed"]:
                    raise
                # A broken edit must not take the assistant down: keep serving the last good index.
                warnings.warn(f"knowledge index not rebuilt, serving the previous one: {exc}", stacklevel=2)
        url = server_url()
        if url:
            client = connect(url)
            stamp, manifest = require_generation(client, COLLECTION, url)
            names = {name: generation_name(name, stamp) for name in (COLLECTION, ZH_COLLECTION)}
            where = f"{url} ({names[COLLECTION]})"
        else:
            store = _store_of(folder)
            client = embedded_client(store)
            manifest, names, where = read_manifest(folder), {name: name for name in (COLLECTION, ZH_COLLECTION)}, str(store)
        collection = client.get_collection(names[COLLECTION], embedding_function=None)
        passages = []
        for name in (COLLECTION, ZH_COLLECTION):
            records = client.get_collection(names[name], embedding_function=None).get(include=["documents", "metadatas"])
            passages += [_passage_from_record(t, m) for t, m in zip(records["documents"], records["metadatas"])]
        passages.sort(key=lambda p: (p.doc_id, int(p.passage_id.rsplit("#", 1)[1])))
        if not any(p.lang == "en" for p in passages):
            raise ArtifactError(f"{where}: the knowledge collection is empty; run `dermagraph index build --force`")
        return cls(folder, client, collection, passages, manifest)

    def close(self) -> None:
        self._client.close()

    def __len__(self) -> int:
        return len(self.passages)

    def _allowed(self, classes: list[str], topics: list[str]) -> np.ndarray:
        allowed = np.ones(len(self.passages), dtype=bool)
        if classes:
            allowed &= np.logical_or.reduce([self._class_mask[c] for c in classes])
        if topics:
            allowed &= np.logical_or.reduce([self._topic_mask[t] for t in topics])
        return allowed

    def _dense(self, vector: np.ndarray, where: dict | None, n: int) -> list[str]:
        if n <= 0:
            return []
        result = self._collection.query(query_embeddings=vector[None, :], n_results=n, where=where, include=[])
        return list(result["ids"][0])

    def rankings(
        self, query: KnowledgeQuery, classes: list[str], topics: list[str], depth: int = CANDIDATE_DEPTH,
        lang: str = "en",
    ) -> dict[str, list[str]]:
        """Each ranker's passage ids, best first (exposed for evaluation and tests).

        For a Chinese question (``query.language == "zh"``) a third ranker, BM25 over the Chinese passages
        on the question's own words, joins the two English ones (which read the question's English rewrite).
        """
        allowed = self._allowed(classes, topics)
        n_allowed = int(allowed.sum())
        vector = embed_query(query.text)
        rankings = {
            "dense": self._dense(vector, _where(classes, topics), min(depth, n_allowed)),
            "bm25": [self.passages[i].passage_id for i in self._bm25.rank(query.text, allowed, depth)],
        }
        if query.language == "zh" and self.twins:
            for name, ranker in self._zh_rankers.items():
                rankings[name] = [self.passages[i].passage_id for i in ranker.rank(query.original, allowed, depth)]
        return rankings

    def search(
        self,
        query: str,
        k: int = 5,
        classes: Sequence[str] | None = None,
        topics: Sequence[str] | None = None,
        lang: str | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for a question (English or Chinese), optionally within classes/topics.

        Passages come in ``lang`` (default: the question's language): a Chinese question gets Chinese passages.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if lang not in (None, "en", "zh"):
            raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
        class_list, topic_list = _check_filters(classes, topics)
        parsed = understand_query(query)
        lang = lang or parsed.language
        rankings = self.rankings(parsed, class_list, topic_list)
        fused = reciprocal_rank_fusion(list(rankings.values()), k=RRF_K)
        hits: list[Passage] = []
        per_doc: dict[str, int] = {}
        for pid, score in fused:
            passage = self.passages[self._row[pid]]
            if per_doc.get(passage.doc_id, 0) >= MAX_PASSAGES_PER_DOC:
                continue
            per_doc[passage.doc_id] = per_doc.get(passage.doc_id, 0) + 1
            hits.append(self.in_language(_with_score(passage, score), lang))
            if len(hits) == k:
                break
        return hits


def _with_score(p: Passage, score: float) -> Passage:
    from dataclasses import replace

    return replace(p, score=round(float(score), 6))


def knowledge_stale_reasons() -> list[str]:
    """For ``ui.build``: why the default index needs building (empty: up to date)."""
    return stale_reasons()


def build_default_knowledge_index() -> Manifest:
    """For ``ui.build``: build the default index with a progress bar."""
    return build_knowledge_index(progress=True)
