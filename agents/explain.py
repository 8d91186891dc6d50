"""Heat maps: where the classifier's score for a class came from, as an overlay on the image.

``explain_image(resources, image, code=None)`` -> ``Explanation`` for the top class (or ``code``): the
classifier backend's ``activation_map`` (LayerCAM per encoder member, ``models.encoder.cam``), its peak,
and the overlay. ``map_choices(top3)`` says which maps the app offers: the top class, and melanoma
when it is among the top three. ``NOTE`` says in both languages what a heat map is and is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from knowledge.images import ImageSource, open_image
from knowledge.schema import Prediction
from knowledge.taxonomy import CODES

from agents.resources import Resources

MELANOMA = "mel"
NOTE = {
    "en": "The heat map shows which parts of the image raised the classifier's score for this class (LayerCAM on "
          "each image model, weighted as the ensemble weights them). It is not an outline of the lesion, not proof "
          "that a dermoscopic structure was recognised, and it does not show the effect of age, sex or site. "
          "Bright areas outside the lesion mean the model used the surroundings: trust the estimate less.",
    "zh": "热图显示图像中哪些区域提高了分类器对该类别的评分（对每个图像模型做 LayerCAM，并按集成模型的权重合并）。"
          "它不是病变的轮廓，不能证明模型识别出了某种皮肤镜结构，也不反映年龄、性别或部位的影响。"
          "若亮区落在病变之外，说明模型利用了周围区域：请降低对该估计的信任。",
}


@dataclass
class Explanation:
    code: str
    heat: np.ndarray  # (H, W) in [0, 1]
    peak: tuple[int, int]  # (x, y)
    overlay: Image.Image


def explain_image(resources: Resources, image: ImageSource, code: str | None = None,
                  prediction: Prediction | None = None) -> Explanation:
    """The heat map of ``code`` (default: the classifier's top class) on ``image``."""
    from models.encoder.cam import heat_overlay, peak_location

    img = open_image(image)
    classifier = resources.classifier
    if not hasattr(classifier, "activation_map"):
        raise ValueError(f"the {classifier.name} classifier has no heat map (the ensemble and encoder backends do)")
    if code is None:
        code = (prediction or classifier.classify(img)).label
    if code not in CODES:
        raise ValueError(f"unknown class {code!r}; expected one of {', '.join(CODES)}")
    heat = classifier.activation_map(img, code)
    return Explanation(code=code, heat=heat, peak=peak_location(heat), overlay=heat_overlay(img, heat))


def map_choices(top3: Sequence[str]) -> list[str]:
    """The classes the app offers a heat map for: the top class, and melanoma when it is in the top three."""
    top = list(top3)[:3]
    return top[:1] + ([MELANOMA] if MELANOMA in top[1:] else [])


def heat_map_file(resources: Resources, image_path: str, code: str) -> str:
    """The heat-map overlay of an uploaded image, made once and kept beside it (``<hash>.heat-<code>.overlay.png``,
    removed with the image by ``agents.retention``)."""
    from pathlib import Path

    if code not in CODES:
        raise ValueError(f"unknown class {code!r}; expected one of {', '.join(CODES)}")
    source = Path(image_path)
    path = source.with_name(f"{source.stem}.heat-{code}.overlay.png")
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp.png")
        explain_image(resources, source, code).overlay.save(tmp, format="PNG")
        tmp.replace(path)
    return str(path)
