"""Which language to answer in: the user's explicit setting, else the language of the question."""

from __future__ import annotations

import re

from knowledge.taxonomy import Language

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str | None, default: Language = "en") -> Language:
    """'zh' when the text contains Chinese characters, else 'en' (or ``default`` for empty text)."""
    if not text or not text.strip():
        return default
    return "zh" if _CJK.search(text) else "en"


def choose_language(question: str | None, setting: str | None = None, previous: Language | None = None) -> Language:
    if setting in ("en", "zh"):
        return setting  # type: ignore[return-value]
    if question and question.strip():
        return detect_language(question)
    return previous or "en"
