"""Supervised turns for one HAM10000 image, each answer taken from a real source.

* identify: the metadata diagnosis (``dx``) and how it was confirmed (``dx_type``);
* advise: the class's malignancy flag placed on the risk tiers in settings;
* medical_qa: a section of a knowledge-corpus document about the image's class, quoted;
* describe: colours, shape and border measured on the image and its ground-truth mask by the
  lesion-feature analyser.

The LLaMA-Factory export and the native trainer both draw their samples from here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from knowledge.cases import Case
from knowledge.prompts import (
    TOPIC_QUESTIONS,
    Task,
    Turn,
    advice_answer,
    identify_answer,
    question,
    variant_for,
)
from knowledge.taxonomy import get_class

DEFAULT_TASKS: tuple[Task, ...] = ("identify", "describe", "advise", "medical_qa")
MEDICAL_ANSWER_WORDS = 120  # keeps every sample far inside the token budget (see models.qwen2vl.budget)


class SourceUnavailable(ValueError):
    """A task's source of truth (corpus, feature analyser) is not available; no text is invented instead."""


@dataclass(frozen=True)
class Sample:
    """One image and one question/answer exchange about it."""

    image_id: str
    image_path: Path
    split: str
    turn: Turn

    @property
    def task(self) -> Task:
        return self.turn.task


def identify_turn(record: Case) -> Turn:
    v = variant_for(record.image_id, "identify")
    return Turn("identify", question("identify", v), identify_answer(record.dx, record.dx_type))


def advise_turn(record: Case) -> Turn:
    v = variant_for(record.image_id, "advise")
    return Turn("advise", question("advise", v), advice_answer(record.dx))


def _pick(key: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % n


def _first_words(text: str, limit: int) -> str:
    """Whole sentences up to ``limit`` words (at least one sentence)."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    kept: list[str] = []
    for sentence in sentences:
        if kept and len(" ".join(kept + [sentence]).split()) > limit:
            break
        kept.append(sentence)
    return " ".join(kept)


class CorpusAnswers:
    """Medical questions about a class, answered with the corpus document for that class and topic."""

    def __init__(self, documents: Sequence[Any]):
        self.by_class: dict[str, list[tuple[str, Any]]] = {}
        for doc in documents:
            for topic in doc.topics:
                if topic in TOPIC_QUESTIONS and len(doc.classes) == 1:
                    self.by_class.setdefault(doc.classes[0], []).append((topic, doc))
        for options in self.by_class.values():
            options.sort(key=lambda td: (td[0], td[1].id))

    @classmethod
    def load(cls) -> "CorpusAnswers":
        try:
            from knowledge.corpus import load_corpus
        except ImportError as exc:
            raise SourceUnavailable(f"the knowledge corpus (knowledge.corpus) is not available: {exc}") from None
        return cls(load_corpus())

    def turn(self, record: Case) -> Turn:
        options = self.by_class.get(record.dx)
        if not options:
            raise SourceUnavailable(f"the knowledge corpus has no document about {record.dx}; cannot answer medical questions on it")
        topic, doc = options[_pick(record.image_id, len(options))]
        name = get_class(record.dx).name_en.lower()
        ask = question("medical_qa", variant_for(record.image_id, "medical_qa"), name=name,
                       topic_question=TOPIC_QUESTIONS[topic].format(name=name))
        heading, body = doc.sections[0]
        answer = f"{_first_words(body, MEDICAL_ANSWER_WORDS)} (Source: {doc.title}.)"
        return Turn("medical_qa", ask, answer)


class FeatureAnswers:
    """Colours, symmetry and border measured on the image and its ground-truth mask, in the feature
    analyser's own words (``models.features``: ``measure_lesion`` -> ``describe`` -> ``summarise``)."""

    def __init__(self) -> None:
        try:
            from models.features import describe, measure_lesion, summarise
            from models.features.masks import read_mask
        except ImportError as exc:
            raise SourceUnavailable(f"the lesion-feature analyser (models.features) is not available: {exc}") from None
        self._describe, self._measure, self._summarise, self._read_mask = describe, measure_lesion, summarise, read_mask

    def turn(self, record: Case) -> Turn | None:
        """None when the record has no ground-truth mask (nothing measured, nothing said)."""
        if record.mask_path is None:
            return None
        from knowledge.images import open_image

        img = open_image(record.image_path)
        features = self._measure(img, self._read_mask(record.mask_path, img.size))
        v = variant_for(record.image_id, "describe")
        return Turn("describe", question("describe", v), self._summarise(self._describe(features), "en"))


def build_samples(
    records: Iterable[Case],
    split: str,
    tasks: Sequence[Task] = DEFAULT_TASKS,
    corpus: CorpusAnswers | None = None,
    features: FeatureAnswers | None = None,
) -> list[Sample]:
    """One sample per record and task, in record order then task order (describe only where a
    ground-truth mask exists)."""
    samples = []
    for record in records:
        for task in tasks:
            if task == "identify":
                turn = identify_turn(record)
            elif task == "advise":
                turn = advise_turn(record)
            elif task == "medical_qa":
                if corpus is None:
                    raise SourceUnavailable("medical_qa needs the knowledge corpus")
                turn = corpus.turn(record)
            elif task == "describe":
                if features is None:
                    raise SourceUnavailable("describe needs the lesion-feature analyser")
                turn = features.turn(record)
                if turn is None:
                    continue
            else:
                raise ValueError(f"unknown task {task!r}; expected one of {', '.join(DEFAULT_TASKS)}")
            samples.append(Sample(record.image_id, record.image_path, split, turn))
    return samples


def sources_for(tasks: Sequence[Task]) -> tuple[CorpusAnswers | None, FeatureAnswers | None]:
    """Load the sources the tasks need (raises ``SourceUnavailable`` naming what is missing)."""
    corpus = CorpusAnswers.load() if "medical_qa" in tasks else None
    features = FeatureAnswers() if "describe" in tasks else None
    return corpus, features


def available_tasks() -> tuple[Task, ...]:
    """The default tasks whose sources can be loaded here (identify and advise always can)."""
    tasks: list[Task] = []
    for task in DEFAULT_TASKS:
        try:
            sources_for([task])
        except SourceUnavailable:
            continue
        tasks.append(task)
    return tuple(tasks)
