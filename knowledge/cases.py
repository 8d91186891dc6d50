"""One lesion record and one set of case filters, for the data, the index, the graph, the app and the evals.

``Case`` is one image of a lesion: a HAM10000 row (``knowledge.ham10000`` loads them), a row of an external
labelled CSV (no lesion id, fields unknown), a similar case the index returns (``retrieval.cases.SimilarCase``
adds the similarity), a citable case of an answer (``agents.state.CaseRef`` adds the reference and rank).
Chroma stores it as ``to_metadata()`` and gives it back through ``from_metadata``.

``CaseFilters`` is what a search is restricted to, whichever way it was asked: CLI pairs
(``from_pairs(["dx=mel,bcc", "age=50-80"])``), the app's dropdowns (``from_widgets``), the chat's words
(``agents.intents.read_filters``), or the older dict form (``coerce``); ``describe(lang)`` says it in
English or Chinese.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, field_serializer

from knowledge.taxonomy import CODES, CONFIRMATIONS, SEXES, Language, confirmation_name, display_name, site_name


class Case(BaseModel):
    """One image of a lesion and what is known about it (``None`` / "unknown" where nothing is)."""

    model_config = ConfigDict(frozen=True)

    image_id: str
    dx: str
    image_path: Path
    lesion_id: str | None = None
    dx_type: str | None = None
    age: float | None = None
    sex: str | None = None
    localization: str | None = None
    mask_path: Path | None = None

    @field_serializer("image_path", "mask_path")
    def _path_text(self, path: Path | None) -> str | None:  # stored and sent as text
        return None if path is None else str(path)

    def caption_fields(self) -> dict[str, str | float | None]:
        return {"dx": self.dx, "dx_type": self.dx_type, "age": self.age, "sex": self.sex, "localization": self.localization}

    def to_metadata(self) -> dict[str, Any]:
        """Chroma's metadata: no nulls (an unknown age is left out, and so fails age filters), no mask."""
        meta: dict[str, Any] = {"image_id": self.image_id, "lesion_id": self.lesion_id or "", "dx": self.dx,
                                "dx_type": self.dx_type or "unknown", "sex": self.sex or "unknown",
                                "localization": self.localization or "unknown", "image_path": str(self.image_path)}
        if self.age is not None:
            meta["age"] = float(self.age)
        return meta

    @classmethod
    def metadata_fields(cls, meta: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of a case stored with ``to_metadata`` (for this class or a subclass's constructor)."""
        return {"image_id": str(meta["image_id"]), "lesion_id": str(meta["lesion_id"]), "dx": str(meta["dx"]),
                "dx_type": str(meta["dx_type"]), "age": float(meta["age"]) if "age" in meta else None,
                "sex": str(meta["sex"]), "localization": str(meta["localization"]), "image_path": Path(str(meta["image_path"]))}


FILTER_KEYS = ("dx", "dx_type", "sex", "localization", "age")
_EXACT = ("dx", "dx_type", "sex", "localization")
_ALLOWED: dict[str, tuple[str, ...]] = {"dx": CODES, "dx_type": tuple(CONFIRMATIONS), "sex": SEXES}
_SEX_ZH = {"male": "男", "female": "女"}
# How each filter reads inside an answer or a panel: "(melanoma only, confirmed by histopathology, aged 60 or over)".
_SAY: dict[str, dict[str, str]] = {
    "dx": {"en": "{value} only", "zh": "仅{value}"},
    "dx_type": {"en": "confirmed by {value}", "zh": "经{value}确诊"},
    "sex": {"en": "{value}", "zh": "{value}性"},
    "age_min": {"en": "aged {value:g} or over", "zh": "{value:g}岁及以上"},
    "age_max": {"en": "aged {value:g} or under", "zh": "{value:g}岁及以下"},
    "localization": {"en": "on the {value}", "zh": "部位：{value}"},
}

Values = str | list[str] | None


class CaseFilters(BaseModel):
    """Which cases a search may return. An exact field takes one value or a list; ages are inclusive years."""

    dx: Values = None
    dx_type: Values = None
    sex: Values = None
    age_min: float | None = None
    age_max: float | None = None
    localization: Values = None

    # --- built from ... ----------------------------------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> "CaseFilters":
        """``["dx=mel,bcc", "sex=male", "age=50-80", "localization=back"]`` (the CLI's ``--filter``).

        Age takes ``LO-HI``, ``LO-`` or ``-HI`` (years, inclusive) or one age; other keys take one value or a
        comma-separated list.
        """
        fields: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ValueError(f"filter {pair!r} is not key=value (keys: {', '.join(FILTER_KEYS)})")
            if key == "age":
                lo, dash, hi = value.partition("-")
                try:
                    fields["age_min"], fields["age_max"] = ((float(lo) if lo else None, float(hi) if hi else None) if dash
                                                            else (float(value), float(value)))
                except ValueError:
                    raise ValueError(f"age filter {value!r} is not LO-HI in years (e.g. 50-80, 60-, -30)") from None
            elif key in _EXACT:
                values = [v.strip() for v in value.split(",") if v.strip()]
                fields[key] = values[0] if len(values) == 1 else values
            else:
                raise ValueError(f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}")
        return cls(**fields).checked()

    @classmethod
    def from_widgets(cls, dx: str | None, dx_type: str | None, sex: str | None, site: str | None,
                     age_min: float | None, age_max: float | None) -> "CaseFilters":
        """The app's dropdowns and age boxes ('' or None means any)."""
        return cls(dx=dx or None, dx_type=dx_type or None, sex=sex or None, localization=site or None,
                   age_min=age_min, age_max=age_max)

    @classmethod
    def coerce(cls, value: "CaseFilters | Mapping[str, Any] | None") -> "CaseFilters":
        """A CaseFilters, its ``model_dump()``, None, or the index's older dict form ({"dx": ..., "age": (lo, hi)})."""
        if value is None:
            return cls()
        if isinstance(value, CaseFilters):
            return value
        fields = dict(value)
        unknown = set(fields) - set(FILTER_KEYS) - set(cls.model_fields)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}; use one of {', '.join(FILTER_KEYS)}")
        if "age" in fields:
            fields["age_min"], fields["age_max"] = fields.pop("age")
        return cls(**fields)

    # --- used as ... -------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return all(getattr(self, k) is None for k in self.model_fields)

    def merged(self, newer: "CaseFilters") -> "CaseFilters":
        """These filters with every field ``newer`` sets replaced (a follow-up narrows or changes the search)."""
        return CaseFilters(**{**self.model_dump(), **{k: v for k, v in newer.model_dump().items() if v is not None}})

    def exact(self) -> dict[str, list[str]]:
        """The exact-match fields that are set, each as a list of accepted values."""
        return {k: [v] if isinstance(v, str) else list(v) for k in _EXACT if (v := getattr(self, k)) is not None}

    def age_range(self) -> tuple[float | None, float | None] | None:
        return None if self.age_min is None and self.age_max is None else (self.age_min, self.age_max)

    def checked(self) -> "CaseFilters":
        """Itself, or a ValueError naming the first value no case can have."""
        for key, values in self.exact().items():
            for v in values:
                if key in _ALLOWED and v not in _ALLOWED[key]:
                    raise ValueError(f"{key}={v!r} is not one of {', '.join(_ALLOWED[key])}")
        lo, hi = self.age_min, self.age_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"age range {lo:g}-{hi:g} is empty")
        return self

    def widgets(self, any_value: str = "") -> list[Any]:
        """Values for the app's dropdowns (the first of a list) and age boxes."""
        first = {k: v[0] for k, v in self.exact().items()}
        return [first.get("dx", any_value), first.get("dx_type", any_value), first.get("sex", any_value),
                first.get("localization", any_value), self.age_min, self.age_max]

    def describe(self, lang: Language = "en") -> list[str]:
        """Each filter in words ("melanoma only", "经组织病理确诊", "aged 60 or over"), in display order."""
        names = {"dx": lambda v: display_name(v, lang), "dx_type": lambda v: confirmation_name(v, lang),
                 "sex": lambda v: _SEX_ZH.get(v, v) if lang == "zh" else v, "localization": lambda v: site_name(v, lang)}
        sep = "、" if lang == "zh" else "/"
        items = []
        exact = self.exact()
        for key in ("dx", "dx_type", "sex"):
            if key in exact:
                items.append(_SAY[key][lang].format(value=sep.join(names[key](v) for v in exact[key])))
        for key in ("age_min", "age_max"):
            if getattr(self, key) is not None:
                items.append(_SAY[key][lang].format(value=getattr(self, key)))
        if "localization" in exact:
            items.append(_SAY["localization"][lang].format(value=sep.join(names["localization"](v) for v in exact["localization"])))
        return items


FiltersLike = CaseFilters | Mapping[str, Any] | None  # what a search accepts (``CaseFilters.coerce``)
