"""Lesion features: segmentation, measured ABCD features and their plain-language description.

``analyse_lesion(img)`` segments the lesion with the shipped model (``artifacts/segmenter``),
measures it (``measure_lesion``, which also works on ground-truth masks) and describes it
(``describe``); ``overlay(img, mask)`` draws the outline. See docs/features.md.
"""

from models.features.analyse import analyse_lesion, analyser_config
from models.features.describe import describe, summarise
from models.features.measure import measure_lesion
from models.features.overlay import overlay
from models.features.schema import FeatureStatement, LesionAnalysis, LesionFeatures
from models.features.segmenter import Segmenter, load_segmenter

__all__ = [
    "FeatureStatement",
    "LesionAnalysis",
    "LesionFeatures",
    "Segmenter",
    "analyse_lesion",
    "analyser_config",
    "describe",
    "load_segmenter",
    "measure_lesion",
    "overlay",
    "summarise",
]
