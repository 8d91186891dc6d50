"""Every path and threshold dermagraph uses, in one place.

Values come from defaults below, overridden by environment variables (``DERMAGRAPH_*``).
Code asks ``get_settings()``; nothing else hard-codes a path or a cut-off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not a number") from exc


def _env_int(name: str, default: int) -> int:
    return int(_env_float(name, default))


@dataclass(frozen=True)
class TriagePolicy:
    """How the triage rule (``agents.risk``) chooses its cut-offs; the cut-offs themselves are data.

    The melanoma and "any malignant or pre-malignant" probability cut-offs are chosen on the val split
    for each classifier, at the sensitivity below, and stored in that classifier's manifest
    (``metrics.triage``). The fallbacks apply only to a classifier that has none (an uncalibrated
    Qwen2-VL adapter): deliberately low, so an uncalibrated model refers more, never less.
    """

    target_sensitivity: float = 0.95  # val melanoma (and malignant) sensitivity the cut-offs must reach (a floor)
    # ...and beyond it, the sensitivity rises (to ``sensitivity_ceiling`` at most) while no more than this share of
    # val naevi is referred: the referral cost the project accepts (docs/triage.md), spent on missing fewer melanomas.
    nv_referral_budget: float = 0.40
    sensitivity_ceiling: float = 0.99
    fallback_mel_threshold: float = 0.02
    fallback_malignant_threshold: float = 0.05
    # The measured-feature checklist score escalates one step at or above its cut-off, chosen on val as the
    # lowest score that escalates at most this share of benign lesions (``agents.checklist``).
    checklist_benign_rate: float = 0.10
    fallback_checklist_cutoff: int = 5
    # A new lesion is a warning sign from this age on (the corpus: new naevi are uncommon after 40-50).
    new_lesion_age: float = 50.0


@dataclass(frozen=True)
class Settings:
    repo_root: Path = REPO_ROOT
    # HAM10000 data: the compact vendored copy, or any folder in the official layout.
    data_dir: Path = REPO_ROOT / "data" / "ham10000"
    # The shipped lesion-disjoint split (image_id, split).
    split_file: Path = REPO_ROOT / "data" / "splits" / "ham10000_split.csv"
    # Artifacts shipped in the repo (trained weights, manifests, embeddings).
    artifacts_dir: Path = REPO_ROOT / "artifacts"
    # Things built or written at run time (indexes, sessions, uploads): never committed.
    var_dir: Path = REPO_ROOT / "var"
    # Knowledge corpus (markdown with front-matter).
    corpus_dir: Path = REPO_ROOT / "knowledge" / "corpus"

    # Classification: below this top-1 probability the classifier abstains.
    abstain_below: float = 0.40
    triage: TriagePolicy = field(default_factory=TriagePolicy)

    # Similar cases: the kNN vote's depth, cases per gallery page and per answer, and the index's own-lesion rules.
    knn_k: int = 16  # the top-k cases whose diagnoses vote (a second opinion beside the classifier)
    cases_per_page: int = 10  # similar cases per page of the chat's and the app's gallery
    max_case_lines: int = 5  # similar cases an answer lists line by line
    lesion_overfetch: int = 12  # extra results asked of Chroma to drop a lesion's images (HAM10000: <= 6 per lesion)
    same_image_similarity: float = 0.995  # a query this close to an indexed case is that very image (re-uploaded)

    # Image input limits (uploads, CLI, API).
    max_upload_bytes: int = 10 * 1024 * 1024
    max_batch_images: int = 200  # images per batch in the app (the CLI has no limit)
    max_question_chars: int = 2000  # one chat message
    max_image_pixels: int = 40_000_000
    min_image_side: int = 32

    # The pushback and self-treatment answers are fixed texts that ignore the question's other words: below this
    # confidence of the intent model the phrase rules decide whether they are given (otherwise the turn is answered as a
    # general question). Chosen on the conversational dev set (evals/data/intents/conversations_blind.yaml; docs/graph.md).
    fixed_answer_min_confidence: float = 0.3

    # Retention: consultations idle this long are deleted with their uploads; images kept per consultation.
    session_retention_days: float = 30.0
    max_uploads_per_thread: int = 20
    # Gradio's copies of raw uploads (decoded and stored per consultation at once) are deleted after this.
    raw_upload_max_age_s: int = 3600

    # Server. Loopback only unless told otherwise. Turns run `serve_concurrency` at a time, each with
    # `torch_threads` intra-op threads (tuned with the load benchmark: docs/reliability.md); up to
    # `queue_size` more wait in Gradio's queue before new requests are turned away.
    host: str = "127.0.0.1"
    port: int = 7860
    serve_concurrency: int = 2
    torch_threads: int = 1
    queue_size: int = 64

    # Beyond one machine (docs/deploy.md). Unset (the default): Chroma embedded under var/index, sessions in
    # SQLite at var/sessions.sqlite, uploads under var/uploads. Set: the case and knowledge indexes live on a
    # Chroma server (http://host:port), consultations in Postgres (postgresql://...), and uploads in a folder
    # every replica shares.
    chroma_url: str | None = None
    sessions_url: str | None = None
    shared_uploads_dir: Path | None = None
    sessions_pool_size: int = 8  # Postgres connections per process (turns hold one for their thread lock)

    # Splits.
    split_seed: int = 20180814  # HAM10000 publication date; any fixed number would do
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)  # train, val, test

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def sessions_db(self) -> Path:
        return self.var_dir / "sessions.sqlite"

    @property
    def uploads_dir(self) -> Path:
        return self.shared_uploads_dir or self.var_dir / "uploads"

    @property
    def upload_cache_dir(self) -> Path:
        """Gradio's own upload cache (GRADIO_TEMP_DIR), under var/ rather than the system's /tmp."""
        return self.var_dir / "gradio"

    @property
    def batch_dir(self) -> Path:
        """The app's batch runs (copied images and their CSV), swept with Gradio's cache."""
        return self.var_dir / "batches"

    def with_overrides(self, **changes: object) -> "Settings":
        return replace(self, **changes)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=_env_path("DERMAGRAPH_DATA", base.data_dir),
        split_file=_env_path("DERMAGRAPH_SPLIT_FILE", base.split_file),
        artifacts_dir=_env_path("DERMAGRAPH_ARTIFACTS", base.artifacts_dir),
        var_dir=_env_path("DERMAGRAPH_VAR", base.var_dir),
        corpus_dir=_env_path("DERMAGRAPH_CORPUS", base.corpus_dir),  # its review record sits beside it
        abstain_below=_env_float("DERMAGRAPH_ABSTAIN_BELOW", base.abstain_below),
        max_upload_bytes=_env_int("DERMAGRAPH_MAX_UPLOAD_BYTES", base.max_upload_bytes),
        host=os.environ.get("DERMAGRAPH_HOST", base.host),
        port=_env_int("DERMAGRAPH_PORT", base.port),
        session_retention_days=_env_float("DERMAGRAPH_RETENTION_DAYS", base.session_retention_days),
        max_uploads_per_thread=_env_int("DERMAGRAPH_MAX_UPLOADS_PER_THREAD", base.max_uploads_per_thread),
        serve_concurrency=_env_int("DERMAGRAPH_CONCURRENCY", base.serve_concurrency),
        torch_threads=_env_int("DERMAGRAPH_TORCH_THREADS", base.torch_threads),
        queue_size=_env_int("DERMAGRAPH_QUEUE_SIZE", base.queue_size),
        chroma_url=os.environ.get("DERMAGRAPH_CHROMA_URL") or None,
        sessions_url=os.environ.get("DERMAGRAPH_SESSIONS_URL") or None,
        shared_uploads_dir=_env_path("DERMAGRAPH_UPLOADS", None) if os.environ.get("DERMAGRAPH_UPLOADS") else None,
        sessions_pool_size=_env_int("DERMAGRAPH_SESSIONS_POOL", base.sessions_pool_size),
    )
