"""Captions: the text side of the image-text pairs, and the class prompts text search uses.

A training caption describes one HAM10000 image from its metadata (diagnosis, how it was confirmed,
age, sex, body site) plus a dermoscopic clue typical of its class. Parts are sampled, so the text
tower sees many phrasings and learns each part separately; that is what lets a query such as
"melanoma on the back of older men" land near the right images.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

from knowledge.taxonomy import CODES, confirmation_name, get_class

DESCRIPTIONS_FILE = Path(__file__).with_name("class_descriptions.yaml")


@lru_cache(maxsize=1)
def class_descriptions() -> dict[str, tuple[str, ...]]:
    """Dermoscopic clues per class code (see the YAML file for the literature)."""
    raw = yaml.safe_load(DESCRIPTIONS_FILE.read_text(encoding="utf-8"))
    if set(raw) != set(CODES):
        raise ValueError(f"{DESCRIPTIONS_FILE.name}: keys {sorted(raw)} must be exactly {CODES}")
    return {code: tuple(str(s) for s in raw[code]) for code in CODES}


def class_names(code: str) -> tuple[str, ...]:
    """Ways to name a class: the display name, then its synonyms."""
    cls = get_class(code)
    return (cls.name_en.lower(), *cls.synonyms)


def age_phrase(age: float | None, sex: str, rng: random.Random) -> str:
    person = {"male": "man", "female": "woman"}.get(sex, "person")
    if age is None:
        return f"a {person} of unknown age" if person != "person" else ""
    word = "young" if age < 30 else "middle-aged" if age < 60 else "older"
    if rng.random() < 0.5:
        return f"a {int(age)}-year-old {person}"
    return f"an {word} {person}" if word[0] in "aeiou" else f"a {word} {person}"


def site_phrase(localization: str) -> str:
    if localization in ("unknown", ""):
        return ""
    if localization in ("acral", "genital"):
        return f"on {localization} skin"
    return f"on the {localization}"


def caption(fields: Mapping[str, object], rng: random.Random) -> str:
    """One sampled caption for an image with metadata ``fields`` (dx, dx_type, age, sex, localization)."""
    code = str(fields["dx"])
    names = class_names(code)
    name = names[0] if rng.random() < 0.6 else rng.choice(names)
    parts = [f"dermoscopy of {name}" if rng.random() < 0.5 else name]
    if fields.get("dx_type") and rng.random() < 0.4:
        parts.append(f"confirmed by {confirmation_name(str(fields['dx_type']))}")
    site = site_phrase(str(fields.get("localization") or "unknown"))
    if site and rng.random() < 0.7:
        parts.append(site)
    age = fields.get("age")
    person = age_phrase(float(age) if age is not None else None, str(fields.get("sex") or "unknown"), rng)
    if person and rng.random() < 0.7:
        parts.append(f"of {person}")
    text = " ".join(parts)
    if rng.random() < 0.6:
        text += f": {rng.choice(class_descriptions()[code])}"
    return text


def class_prompts(code: str) -> list[str]:
    """Fixed prompts for one class (averaged into a class text embedding)."""
    name = class_names(code)[0]
    return [f"dermoscopy of {name}", name] + [f"{name}: {d}" for d in class_descriptions()[code]]
