"""Reading a knowledge question before it is searched.

The passages are English and the embedder is English-only, so the question is first rewritten into
English (Chinese phrases and Chinese class names through ``knowledge.glossary``), the classes it
names are recognised (codes, English names, synonyms, Chinese names), and lay wording gains the
corpus's words ("is this mole cancer" also asks about malignant melanocytic lesions). The original
words are always kept: expansion only adds.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.glossary import abbreviation_mentions, class_mentions, has_chinese, lay_expansion, normalise, to_english
from knowledge.taxonomy import display_name


@dataclass(frozen=True)
class KnowledgeQuery:
    original: str
    text: str  # what the rankers see: English, with class names spelled out and lay words expanded
    classes: tuple[str, ...]  # classes the question names, in order of mention
    language: str  # "zh" when the question contains Chinese, else "en"


def understand_query(question: str) -> KnowledgeQuery:
    original = normalise(question or "")
    if not original:
        raise ValueError("the question is empty")
    classes = tuple(class_mentions(original))
    english = to_english(original)
    lowered = english.lower()
    # Spell out classes named only by a code or abbreviation; a class named in words ("mole") is
    # left as the user wrote it, since adding "melanocytic nevus" would pull lay questions about
    # moles in general towards the naevus documents.
    names = [display_name(c) for c in abbreviation_mentions(english) if display_name(c).lower() not in lowered]
    parts = [english, *names, lay_expansion(english)]
    text = " ".join(p for p in parts if p).strip()
    return KnowledgeQuery(
        original=original,
        text=text or original,
        classes=classes,
        language="zh" if has_chinese(original) else "en",
    )
