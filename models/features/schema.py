"""Typed results of the lesion-feature analyser (pydantic: stored in LangGraph state as JSON).

A mask travels as a base64 1-bit PNG in JSON (a few hundred bytes for a 200x150 image) and as a
boolean ``numpy`` array in Python.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema


def mask_to_png_b64(mask: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(mask, dtype=bool)).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _mask_from_any(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        if value.ndim != 2:
            raise ValueError(f"a mask is a 2-D array, got shape {value.shape}")
        return value.astype(bool, copy=False)
    if isinstance(value, str):
        with Image.open(io.BytesIO(base64.b64decode(value))) as img:
            return np.asarray(img.convert("1"), dtype=bool)
    raise ValueError(f"a mask is a 2-D boolean array or a base64 PNG, got {type(value).__name__}")


Mask = Annotated[
    np.ndarray,
    BeforeValidator(_mask_from_any),
    PlainSerializer(mask_to_png_b64, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"}),
]


class LesionFeatures(BaseModel):
    """What was measured on one lesion; every number is defined in docs/features.md."""

    model_config = ConfigDict(frozen=True)

    outline: Literal["annotated", "segmenter"] = Field(
        default="annotated", description="who drew the outline: a person (e.g. HAM10000 masks) or the segmenter")
    # Size, relative to the image only: dermoscopy images carry no physical scale without a ruler.
    area_fraction: float = Field(description="lesion pixels / image pixels")
    diameter_fraction: float = Field(description="longest diameter (max Feret) / image long side")
    edges_touched: int = Field(description="image edges the lesion touches (0-4): its extent may be larger")
    # Asymmetry across the two principal axes (major first).
    shape_asymmetry: tuple[float, float] = Field(description="non-overlapping share after mirroring, per axis")
    colour_asymmetry: tuple[float, float] = Field(description="delta E between the two halves' mean colours, per axis")
    asymmetric_axes: int = Field(description="axes (0-2) asymmetric in shape or colour")
    # Border.
    compactness: float = Field(description="perimeter^2 / (4 pi area); 1 = circle")
    concavity: float = Field(description="1 - area / convex hull area (notches and lobes)")
    edge_steepness: tuple[float, ...] = Field(description="mean |grad L*| across the border, per segment")
    abrupt_segments: int = Field(description="border segments (of 8) with an abrupt edge")
    # Colour.
    colour_shares: dict[str, float] = Field(description="share of lesion pixels nearest to each reference colour")
    colours: list[str] = Field(description="reference colours covering at least the minimum share")
    colour_count: int
    variegation: float = Field(description="RMS delta E of lesion pixels from their mean colour")
    lesion_skin_contrast: float | None = Field(description="delta E between the median colours of lesion and surrounding skin (None: no skin visible)")


    def scalars(self) -> dict[str, float]:
        """Each feature as one number (per-axis values also as their maximum), for comparing groups."""
        values = {
            "area_fraction": self.area_fraction,
            "diameter_fraction": self.diameter_fraction,
            "shape_asymmetry_major": self.shape_asymmetry[0],
            "shape_asymmetry_minor": self.shape_asymmetry[1],
            "shape_asymmetry_max": max(self.shape_asymmetry),
            "colour_asymmetry_max": max(self.colour_asymmetry),
            "asymmetric_axes": float(self.asymmetric_axes),
            "compactness": self.compactness,
            "concavity": self.concavity,
            "edge_steepness_mean": float(sum(self.edge_steepness) / len(self.edge_steepness)),
            "abrupt_segments": float(self.abrupt_segments),
            "colour_count": float(self.colour_count),
            "variegation": self.variegation,
        }
        values.update({f"share_{key}": share for key, share in self.colour_shares.items()})
        return values


class FeatureStatement(BaseModel):
    """One plain-language statement and the measured values it rests on."""

    model_config = ConfigDict(frozen=True)

    key: str
    text_en: str
    text_zh: str
    values: dict[str, Any]


class LesionAnalysis(BaseModel):
    """Segmentation + measurement of one image; ``delineated`` False means nothing was measured."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    delineated: bool
    reason: str | None = None
    reason_zh: str | None = None
    mask: Mask  # (H, W) bool at the input image's size (empty when nothing was found)
    features: LesionFeatures | None = None
    statements: list[FeatureStatement] = Field(default_factory=list)
    checks: dict[str, float] = Field(default_factory=dict)  # the values behind the delineation decision
    scale_note: str = (
        "Sizes are relative to the image: a dermoscopy image has no physical scale unless a ruler is in it."
    )
