"""Similar-case retrieval: the train+val HAM10000 cases in a Chroma collection, searched by image or text.

``build_case_index()`` loads the case embeddings shipped with the encoder (no re-encoding) and the
dataset's metadata into a Chroma ``PersistentClient`` under ``settings.index_dir / "cases"``, or into a
Chroma server when ``DERMAGRAPH_CHROMA_URL`` is set (``retrieval.chroma_store``: same records, manifest in
the collection's metadata).
``CaseIndex.open().search(image_or_text, k, filters, exclude_lesion)`` returns ``SimilarCase``s;
``knn_vote`` turns the top 16 into a second opinion.

Chroma's default embedding function downloads a model, so it is never used: the collection is
created with ``embedding_function=None`` and every call passes our own embeddings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from knowledge.artifacts import (ArtifactError, Manifest, atomic_replace_dir, manifest_staleness, read_manifest, staging_dir,
                                 staleness, write_manifest)
from knowledge.cases import Case, CaseFilters, FiltersLike
from knowledge.ham10000 import HamDataset, load_dataset
from knowledge.images import open_image
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES
from models.encoder import DermEncoder, load_case_embeddings, load_encoder, read_encoder_manifest
from retrieval.chroma_store import (commit_generation, connect, create_generation, current_generation, drop_older_generations,
                                    embedded_client, generation_name, new_stamp, require_generation, server_url)
from models.encoder.artifact import CASES_NAME

COLLECTION = "ham10000_cases"


class SimilarCase(Case):
    """An indexed case (its HAM10000 record, without the mask the index does not keep) and its similarity."""

    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"mask_path"})


def case_index_dir(index_dir: Path | None = None) -> Path:
    return Path(index_dir) if index_dir is not None else get_settings().index_dir / "cases"


# --- building --------------------------------------------------------------------------------------------


def _index_config(artifact_dir: Path | None) -> dict[str, Any]:
    manifest = read_encoder_manifest(artifact_dir)
    return {"collection": COLLECTION, "encoder_config_hash": manifest.config_hash,
            "case_embeddings_sha256": manifest.files.get(CASES_NAME, "missing")}


def case_index_staleness(index_dir: Path | None = None, artifact_dir: Path | None = None,
                         dataset: HamDataset | None = None) -> list[str]:
    """Why the Chroma index does not match the encoder artifact and the data (empty: up to date)."""
    try:
        config = _index_config(artifact_dir)
    except ArtifactError as exc:
        return [f"encoder artifact: {exc}"]
    fingerprint = (dataset or load_dataset()).fingerprint()
    url = server_url()
    if url:
        current = current_generation(connect(url), COLLECTION)
        if current is None:
            return [f"no complete {COLLECTION!r} collection on the Chroma server at {url}"]
        return manifest_staleness(current[1], config, fingerprint)
    folder = case_index_dir(index_dir)
    reasons = staleness(folder, config, fingerprint)
    if not reasons and not (folder / "chroma.sqlite3").is_file():
        reasons.append("chroma database missing")
    return reasons


def build_case_index(index_dir: Path | None = None, artifact_dir: Path | None = None, dataset: HamDataset | None = None,
                     progress: bool = True, batch_size: int = 1000) -> dict[str, Any]:
    """(Re)build the Chroma collection from the shipped case embeddings; returns counts and images/s."""
    from tqdm import tqdm

    started = time.perf_counter()
    dataset = dataset or load_dataset()
    ids, emb = load_case_embeddings(artifact_dir)
    missing = [i for i in ids if i not in dataset]
    if missing:
        raise ArtifactError(f"{len(missing)} case embeddings name images not in the dataset (e.g. {missing[0]}); "
                            "the encoder artifact was built from other data: retrain it")
    url = server_url()
    if url:
        client, stamp = connect(url), new_stamp()
        collection = create_generation(client, COLLECTION, stamp, {"hnsw:space": "cosine"})
    else:
        folder = case_index_dir(index_dir)
        staging = staging_dir(folder)
        client = embedded_client(staging)
        collection = client.create_collection(COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None)
    for start in tqdm(range(0, len(ids), batch_size), desc="index cases", unit="batch", disable=not progress):
        chunk = ids[start : start + batch_size]
        collection.add(ids=chunk, embeddings=emb[start : start + batch_size],
                       metadatas=[dataset.get(i).to_metadata() for i in chunk])
    count = collection.count()
    seconds = time.perf_counter() - started
    stats = {"cases": count, "seconds": round(seconds, 2), "images_per_s": round(count / seconds, 1)}
    manifest = Manifest(name="cases", kind="chroma", data_fingerprint=dataset.fingerprint(),
                        config=_index_config(artifact_dir), metrics=stats)
    if url:
        commit_generation(collection, manifest)  # from here on readers open this generation
        drop_older_generations(client, [COLLECTION], stamp)
        return stats
    del collection, client
    write_manifest(staging, manifest, hash_files=False)
    atomic_replace_dir(staging, folder)
    return stats


# --- searching -------------------------------------------------------------------------------------------


class CaseIndex:
    """Open with ``CaseIndex.open()``; ``search`` by image or text; the encoder loads on first use."""

    def __init__(self, collection: Any, encoder: DermEncoder | None = None, artifact_dir: Path | None = None) -> None:
        self.collection = collection
        self._memory: _CaseTable | None = None  # vectors + metadata, for filtered scans
        self._encoder = encoder
        self._artifact_dir = artifact_dir

    @classmethod
    def open(cls, index_dir: Path | None = None, encoder: DermEncoder | None = None,
             artifact_dir: Path | None = None) -> "CaseIndex":
        url = server_url()
        if url:
            client = connect(url)
            stamp, _ = require_generation(client, COLLECTION, url)
            return cls(client.get_collection(generation_name(COLLECTION, stamp), embedding_function=None), encoder, artifact_dir)
        folder = case_index_dir(index_dir)
        if not (folder / "chroma.sqlite3").is_file():
            raise ArtifactError(f"{folder}: similar-case index not built; run `dermagraph index build`")
        read_manifest(folder)
        collection = embedded_client(folder).get_collection(COLLECTION, embedding_function=None)
        return cls(collection, encoder, artifact_dir)

    @property
    def encoder(self) -> DermEncoder:
        if self._encoder is None or self._encoder.text is None:
            self._encoder = load_encoder(self._artifact_dir, with_text=True)
        return self._encoder

    def __len__(self) -> int:
        return self.collection.count()

    def embed(self, query: Image.Image | str | Path) -> np.ndarray:
        """The query's embedding: a ``str`` is text (text tower); a Path, PIL image, bytes or array is an image."""
        if isinstance(query, str):
            if not query.strip():
                raise ValueError("empty text query")
            return self.encoder.embed_texts([text_query(query)])[0]
        return self.encoder.embed_images([open_image(query)])[0]

    def search(self, query: Image.Image | str | Path, k: int = 10, filters: FiltersLike = None,
               exclude_lesion: str | None = None, distinct_lesions: bool = False,
               exclude_own_lesion: bool = True) -> list[SimilarCase]:
        """The ``k`` most similar cases to an image (PIL, Path, bytes) or a text (``str``), optionally filtered.

        For an image query, its own lesion is excluded: ``exclude_lesion`` when given, else (unless
        ``exclude_own_lesion=False``) the lesion of an indexed image identical to the query (``own_lesion``).
        """
        return self.search_embedding(self.embed(query), k, filters, exclude_lesion, distinct_lesions,
                                     exclude_own_lesion=exclude_own_lesion and not isinstance(query, str))

    def own_lesion(self, embedding: np.ndarray) -> str | None:
        """The lesion of an indexed image identical to this one (a HAM10000 image searched for itself, or re-uploaded)."""
        hit = self.collection.query(query_embeddings=embedding[None].astype(np.float32), n_results=1, include=["metadatas", "distances"])
        if hit["ids"][0] and 1 - hit["distances"][0][0] >= get_settings().same_image_similarity:
            return str(hit["metadatas"][0][0]["lesion_id"])
        return None

    def search_embedding(self, embedding: np.ndarray, k: int = 10, filters: FiltersLike = None,
                         exclude_lesion: str | None = None, distinct_lesions: bool = False,
                         exclude_own_lesion: bool = False) -> list[SimilarCase]:
        """The ``k`` nearest cases to an embedding; ``exclude_own_lesion``: as in ``search``.

        ``distinct_lesions``: the ``k`` nearest *lesions*, each by its closest image (HAM10000 has up to six
        near-identical images of one lesion, which would fill a gallery with one lesion); an exact scan.

        Unfiltered: Chroma's HNSW index, asking for a few extra results so the excluded lesion's
        images (at most a handful per lesion in HAM10000) can be dropped without a ``where``.
        Filtered: an exact scan of the collection's vectors held in memory, because Chroma's
        filtered query measured ~300 ms p50 at 10k cases (`dermagraph bench --only case_search`)
        against ~1 ms for this scan. Both return the same cases (the scan is exact; HNSW at this
        size is, in practice, too).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        wanted = CaseFilters.coerce(filters).checked()
        query = np.asarray(embedding, np.float32)
        if exclude_own_lesion and exclude_lesion is None:
            exclude_lesion = self.own_lesion(query)
        if not wanted.is_empty() or distinct_lesions:
            return self._scan(query, k, wanted, exclude_lesion, distinct_lesions)
        extra = get_settings().lesion_overfetch if exclude_lesion else 0
        res = self.collection.query(query_embeddings=query[None], n_results=k + extra, include=["metadatas", "distances"])
        cases = [_to_case(meta, dist) for meta, dist in zip(res["metadatas"][0], res["distances"][0])]
        kept = [c for c in cases if c.lesion_id != exclude_lesion]
        if len(kept) < k and len(cases) == k + extra:  # an unusually large lesion: fall back to the filtered path
            return self._scan(query, k, CaseFilters(), exclude_lesion)
        return kept[:k]

    def lesion_count(self, filters: FiltersLike = None) -> int:
        """How many distinct lesions pass the filters (the denominator of a rank)."""
        table = self._table()
        keep = table.mask(CaseFilters.coerce(filters), None)
        return int(np.unique(table.codes["lesion_id"][keep]).size)

    def _table(self) -> "_CaseTable":
        if self._memory is None:
            self._memory = _CaseTable.load(self.collection)
        return self._memory

    def _scan(self, query: np.ndarray, k: int, filters: CaseFilters, exclude_lesion: str | None,
              distinct_lesions: bool = False) -> list[SimilarCase]:
        table = self._table()
        keep = table.mask(filters, exclude_lesion)
        n = int(keep.sum())
        if not n:
            return []
        # Score every case rather than copying the kept rows. einsum, not `@`: with torch loaded,
        # a multi-threaded BLAS matrix-vector product took ~16 ms here against ~0.4 ms single-threaded.
        unit = query / max(float(np.linalg.norm(query)), 1e-12)
        sims = np.where(keep, np.einsum("ij,j->i", table.vectors, unit), -np.inf)
        if distinct_lesions:
            top = _best_per_lesion(sims, table.codes["lesion_id"], k, n)
        else:
            k = min(k, n)
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top])]
        return [_to_case(table.metas[i], 1.0 - float(sims[i])) for i in top]


def _best_per_lesion(sims: np.ndarray, lesions: np.ndarray, k: int, n: int) -> list[int]:
    """Row indices of the ``k`` best-scoring lesions (each by its best row), among the ``n`` finite scores."""
    depth = min(n, k * 6 + get_settings().lesion_overfetch)  # at most six images per lesion: usually enough at once
    while True:
        part = np.argpartition(-sims, depth - 1)[:depth]
        part = part[np.argsort(-sims[part], kind="stable")]
        seen: set[int] = set()
        out = []
        for i in part:
            if lesions[i] not in seen:
                seen.add(int(lesions[i]))
                out.append(int(i))
                if len(out) == k:
                    return out
        if depth >= n:
            return out
        depth = min(n, depth * 2)


@dataclass
class _CaseTable:
    """The collection's vectors (unit length) and metadata in memory, as integer-coded columns, for exact filtered scans."""

    vectors: np.ndarray
    metas: list[Mapping[str, Any]]
    codes: dict[str, np.ndarray]  # per text column: the index of each case's value in ``values``
    values: dict[str, dict[str, int]]
    age: np.ndarray  # NaN where unknown

    @classmethod
    def load(cls, collection: Any) -> "_CaseTable":
        got = collection.get(include=["embeddings", "metadatas"])
        vectors = np.asarray(got["embeddings"], np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        metas = list(got["metadatas"])
        codes, values = {}, {}
        for key in ("dx", "dx_type", "sex", "localization", "lesion_id"):
            column = [str(m.get(key, "")) for m in metas]
            values[key] = {v: i for i, v in enumerate(sorted(set(column)))}
            codes[key] = np.asarray([values[key][v] for v in column], dtype=np.int32)
        age = np.asarray([float(m["age"]) if "age" in m else np.nan for m in metas])
        return cls(vectors, metas, codes, values, age)

    def mask(self, filters: CaseFilters, exclude_lesion: str | None) -> np.ndarray:
        """Cases passing every filter (age range inclusive; unknown age fails an age filter), the lesion left out."""
        keep = np.ones(len(self.metas), dtype=bool)
        if exclude_lesion and exclude_lesion in self.values["lesion_id"]:
            keep &= self.codes["lesion_id"] != self.values["lesion_id"][exclude_lesion]
        for key, values in filters.exact().items():
            keep &= np.isin(self.codes[key], [self.values[key][v] for v in values if v in self.values[key]])
        if (ages := filters.age_range()) is not None:
            lo, hi = ages
            with np.errstate(invalid="ignore"):
                keep &= (self.age >= (-np.inf if lo is None else lo)) & (self.age <= (np.inf if hi is None else hi))
        return keep


def _to_case(meta: Mapping[str, Any], distance: float) -> SimilarCase:
    return SimilarCase(**Case.metadata_fields(meta), similarity=round(1.0 - float(distance), 6))


def text_query(text: str) -> str:
    """What the (English) text tower reads: a Chinese description through the glossary's Chinese -> English
    phrases (``knowledge.glossary.to_english``; unknown Chinese words are dropped), English as it is."""
    from knowledge.glossary import has_chinese, to_english

    if not has_chinese(text):
        return text
    english = to_english(text)
    return english if english.strip() else text


def knn_vote(cases: Sequence[SimilarCase]) -> dict[str, float]:
    """Share of each class among the cases (all codes, in ``CODES`` order): a second opinion."""
    votes = dict.fromkeys(CODES, 0.0)
    for case in cases:
        votes[case.dx] += 1
    total = max(len(cases), 1)
    return {code: n / total for code, n in votes.items()}


@dataclass
class SearchResult:
    """What ``dermagraph search`` shows: the cases, the top-16 vote, and which lesion was left out."""

    query: str
    cases: list[SimilarCase]
    vote: dict[str, float]
    excluded_lesion: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "excluded_lesion": self.excluded_lesion, "knn_vote": self.vote,
                "cases": [c.to_dict() for c in self.cases]}


def find_similar_cases(image: str | Path | None = None, text: str | None = None, k: int = 10,
                       filters: FiltersLike = None, index: CaseIndex | None = None,
                       dataset: HamDataset | None = None, knowledge_index: Any = None) -> SearchResult:
    """Search by an image file (or a HAM10000 image id) or by text; the vote uses the top ``settings.knn_k``.

    A text search with ``knowledge_index`` is re-ranked by the corpus's class evidence (``retrieval.text_search``),
    one image per lesion, as in the app."""
    if (image is None) == (text is None):
        raise ValueError("give an image or a text query, not both and not neither")
    exclude = None
    picture = None
    knn_k = get_settings().knn_k
    if image is not None:
        path = Path(image)
        if not path.exists() and path.name.startswith("ISIC_"):
            record = (dataset or load_dataset()).get(path.name)  # an image id of the dataset
            path, exclude = record.image_path, record.lesion_id
        picture = open_image(path)  # a bad file fails here, before the index and the encoder load
    index = index or CaseIndex.open()
    if picture is None and knowledge_index is not None:
        from retrieval.text_search import search_by_text

        cases = search_by_text(index, knowledge_index, str(text), max(k, knn_k), filters)
        return SearchResult(str(text), cases[:k], knn_vote(cases[:knn_k]), None)
    if picture is None:
        embedding = index.embed(str(text))
        label = str(text)
    else:
        embedding = index.embed(picture)
        exclude = exclude or index.own_lesion(embedding)
        label = str(image)
    cases = index.search_embedding(embedding, max(k, knn_k), filters, exclude)
    return SearchResult(label, cases[:k], knn_vote(cases[:knn_k]), exclude)
