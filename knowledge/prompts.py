"""Questions and answers for the vision-language model, shared by training and inference.

The Qwen2-VL path learns four kinds of turn about a dermoscopy image (identify the lesion type,
describe its features, give preliminary advice, answer a related medical question). The export
for LLaMA-Factory, the native trainer and the inference backend all take their wording from here,
so the sentence the backend scores for each class is, token for token, the sentence the model was
trained to produce.

Answers are assembled from facts, never invented: the class comes from the HAM10000 metadata
(``dx``, and ``dx_type`` for how it was confirmed), the advice from the class's malignancy flag and
the risk tiers in settings, feature descriptions from measurements, and medical answers from the
knowledge corpus. Everything is English; class names come from ``knowledge.taxonomy``.

Advice wording follows the usual referral logic for pigmented lesions: lesions suspicious of
melanoma or other skin cancer are seen promptly by a specialist, changing lesions are re-examined,
stable benign-looking ones are watched (NICE NG12, *Suspected cancer: recognition and referral*,
2015, section 1.7; Argenziano G. et al., *Dermoscopy of pigmented skin lesions*, J Am Acad
Dermatol 48:679-693, 2003; Kittler H. et al., *Diagnostic accuracy of dermoscopy*, Lancet Oncol
3:159-165, 2002).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from knowledge.advice import TIER_ADVICE as _TIER_ADVICE, RiskTier, tier_advice, tier_for_class
from knowledge.advice import disclaimer
from knowledge.taxonomy import confirmation_name, get_class

# The English disclaimer and tier advice the model is trained to give (one home: knowledge.advice).
DISCLAIMER = disclaimer("en")
TIER_ADVICE: dict[str, str] = {t.name.lower(): _TIER_ADVICE[t]["en"] for t in RiskTier}

Task = Literal["identify", "describe", "advise", "medical_qa"]
TASKS: tuple[Task, ...] = ("identify", "describe", "advise", "medical_qa")

# Several phrasings per task so the fine-tuned model does not key on one sentence; the first one
# is canonical: the backend asks it when scoring classes and describing.
QUESTIONS: dict[Task, tuple[str, ...]] = {
    "identify": (
        "What type of skin lesion does this dermoscopy image show?",
        "Which lesion type is shown in this dermoscopic image?",
        "Classify the skin lesion in this dermoscopy image.",
    ),
    "describe": (
        "Describe the colours, shape and border of this lesion.",
        "What do the colour, symmetry and border of this lesion look like?",
        "Describe the dermoscopic features of this lesion: colour, shape and border.",
    ),
    "advise": (
        "What should the person with this lesion do next?",
        "Give preliminary advice about this skin lesion.",
        "Does this lesion need to be seen by a doctor?",
    ),
    "medical_qa": (
        "This lesion was confirmed as {name}. {topic_question}",
        "The diagnosis of this lesion is {name}. {topic_question}",
    ),
}

# Medical questions by knowledge-corpus topic; the answers are the corpus documents' own text.
TOPIC_QUESTIONS: dict[str, str] = {
    "overview": "What is {name}?",
    "dermoscopy": "What does {name} look like under a dermatoscope?",
    "epidemiology": "Who tends to get {name}, and how common is it?",
    "differential": "Which other lesions can look like {name}, and how are they told apart?",
    "management": "How is {name} usually managed?",
}

def question(task: Task, variant: int = 0, **fields: str) -> str:
    """The ``variant``-th phrasing of the task's question (wrapping), with ``fields`` filled in."""
    options = QUESTIONS[task]
    return options[variant % len(options)].format(**fields)


def variant_for(key: str, task: Task) -> int:
    """A stable phrasing index for one image and task (same export every run, spread over phrasings)."""
    digest = hashlib.sha256(f"{task}:{key}".encode()).digest()
    return digest[0] % len(QUESTIONS[task])


def class_answer(code: str) -> str:
    """The sentence that names a class: what the backend scores and what an identify answer opens with."""
    return f"Lesion type: {get_class(code).name_en} ({code})."


def identify_answer(code: str, dx_type: str) -> str:
    """Class sentence plus how HAM10000 confirmed it (metadata ``dx_type``)."""
    return f"{class_answer(code)} In the HAM10000 data this diagnosis was confirmed by {confirmation_name(dx_type)}."


def advice_answer(code: str) -> str:
    """Advice for a lesion of known class: the tier that class calls for (``knowledge.advice.CLASS_TIER``)."""
    cls = get_class(code)
    nature = "a malignant or pre-malignant lesion type" if cls.malignant else "a benign lesion type"
    tier = tier_for_class(code)
    return f"The appearance is most consistent with {cls.name_en.lower()}, {nature}. {tier_advice(tier)} {DISCLAIMER}"


@dataclass(frozen=True)
class Turn:
    """One supervised exchange about one image: the user's question and the target answer."""

    task: Task
    question: str
    answer: str


def user_message(text: str) -> dict:
    """A user turn with the image first, then the text: the layout of the Qwen2-VL chat template
    and of LLaMA-Factory's ``<image>`` placeholder at the start of the user content."""
    return {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}
