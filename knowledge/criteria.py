"""What each class typically looks like under the dermatoscope, in a form the composer can reason with.

Two kinds of statement per class, each resting on one corpus document (``doc``, cited as the passage
the answer quotes from it, in either language):
* ``STRUCTURES``: the dermoscopic structures that identify the class (what a dermatologist looks for;
  most are too fine for this tool to measure at 200x150 pixels);
* ``EXPECTATIONS``: the typical appearance in the terms the lesion-feature analyser measures
  (asymmetry, colours, border), each with a check on the measured values: True when this lesion
  matches, False when it does not, None when the measurement is missing.

The texts paraphrase the cited documents (tests check that each document names what its statements
name); the safety reviewer accepts a sentence built from them only when it cites that document's passage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from knowledge.taxonomy import CODES, Language

Values = Mapping[str, Any]  # LesionFeatures as JSON (agents.state.FeatureRef.values)


@dataclass(frozen=True)
class Expectation:
    key: str
    code: str
    doc: str
    text: dict[Language, str]  # "usually symmetric": completes "{class} is typically ..."
    check: Callable[[Values], bool | None]
    terms: dict[Language, tuple[str, ...]]  # words the cited document must contain (checked by tests)


@dataclass(frozen=True)
class Structures:
    code: str
    doc: str
    text: dict[Language, str]  # a list of structures
    terms: dict[Language, tuple[str, ...]]


def _colours(v: Values) -> set[str] | None:
    colours = v.get("colours")
    return set(colours) if isinstance(colours, list) else None


def _axes(v: Values) -> int | None:
    axes = v.get("asymmetric_axes")
    return int(axes) if axes is not None else None


def _symmetric(v: Values) -> bool | None:
    axes = _axes(v)
    return None if axes is None else axes == 0


def _asymmetric(v: Values) -> bool | None:
    axes = _axes(v)
    return None if axes is None else axes >= 1


def _has(*colours: str) -> Callable[[Values], bool | None]:
    def check(v: Values) -> bool | None:
        found = _colours(v)
        return None if found is None else bool(found & set(colours))

    return check


def _few_brown(v: Values) -> bool | None:
    found = _colours(v)
    return None if found is None else len(found) <= 2 and found <= {"light_brown", "dark_brown"}


def _many_colours(v: Values) -> bool | None:
    count = v.get("colour_count")
    return None if count is None else int(count) >= 3


def _sharp_border(v: Values) -> bool | None:
    abrupt = v.get("abrupt_segments")
    return None if abrupt is None else int(abrupt) >= 6  # of 8 border segments


EXPECTATIONS: tuple[Expectation, ...] = (
    Expectation("nv_symmetric", "nv", "nv-dermoscopy", {"en": "symmetric", "zh": "对称"}, _symmetric,
                {"en": ("symmetric",), "zh": ("对称",)}),
    Expectation("nv_colours", "nv", "nv-dermoscopy",
                {"en": "one or two colours, usually shades of brown", "zh": "只有一到两种颜色，通常为深浅不同的棕色"},
                _few_brown, {"en": ("one or two colours", "brown"), "zh": ("棕",)}),
    Expectation("mel_asymmetric", "mel", "mel-dermoscopy",
                {"en": "asymmetric in colour and structure", "zh": "颜色和结构分布不对称"}, _asymmetric,
                {"en": ("asymmetr",), "zh": ("不对称",)}),
    Expectation("mel_colours", "mel", "mel-dermoscopy", {"en": "of three or more colours", "zh": "有三种或更多颜色"},
                _many_colours, {"en": ("colours",), "zh": ("颜色",)}),
    Expectation("mel_blue_black_white", "mel", "mel-dermoscopy",
                {"en": "marked by black, blue-grey or white areas", "zh": "可见黑色、蓝灰色或白色区域"},
                _has("black", "blue_grey", "white"), {"en": ("blue", "white"), "zh": ("蓝", "白")}),
    Expectation("bkl_sharp", "bkl", "bkl-dermoscopy",
                {"en": "sharply demarcated, as though stuck on the skin", "zh": "边界清楚锐利，像贴在皮肤上一样"},
                _sharp_border, {"en": ("sharply demarcated",), "zh": ("边界",)}),
    Expectation("df_white", "df", "df-dermoscopy",
                {"en": "marked by a central white scar-like patch", "zh": "中央有白色瘢痕样斑片"}, _has("white"),
                {"en": ("central white",), "zh": ("白色",)}),
    Expectation("df_light_brown", "df", "df-dermoscopy",
                {"en": "rimmed by a delicate light-brown network", "zh": "周边有纤细的浅棕色色素网"}, _has("light_brown"),
                {"en": ("light-brown",), "zh": ("浅棕色",)}),
    Expectation("vasc_red", "vasc", "vasc-dermoscopy",
                {"en": "made of red, red-blue or purple lacunae", "zh": "由红色、红蓝色或紫色腔隙构成"},
                _has("red", "blue_grey"), {"en": ("red", "lacun"), "zh": ("红", "腔隙")}),
    Expectation("bcc_blue_red_white", "bcc", "bcc-dermoscopy",
                {"en": "marked by blue-grey nests or globules, red vessels or shiny white areas",
                 "zh": "可见蓝灰色巢或小球、红色血管或亮白色区域"},
                _has("blue_grey", "red", "white"), {"en": ("blue-grey", "white"), "zh": ("蓝灰色", "白色")}),
    Expectation("akiec_red", "akiec", "akiec-dermoscopy",
                {"en": "red, with white or yellow scale", "zh": "呈红色，伴白色或黄色鳞屑"}, _has("red"),
                {"en": ("red", "scale"), "zh": ("红", "鳞屑")}),
)

STRUCTURES: dict[str, Structures] = {s.code: s for s in (
    Structures("mel", "mel-dermoscopy",
               {"en": "an atypical pigment network, irregular dots, globules and streaks, a blue-white veil, regression structures "
                      "and several colours distributed asymmetrically",
                "zh": "不典型色素网、不规则的点、球和条纹、蓝白幕、退行结构，以及不对称分布的多种颜色"},
               {"en": ("network", "streaks", "veil", "regression"), "zh": ("色素网", "条纹", "蓝白幕", "退行")}),
    Structures("nv", "nv-dermoscopy",
               {"en": "one repeating pattern (a regular network, regular globules or homogeneous brown) that fades evenly at the edge, "
                      "in one or two colours",
                "zh": "单一、均匀重复的模式（规则的色素网、规则的小球或均质棕色），边缘逐渐变淡，只有一到两种颜色"},
               {"en": ("network", "globules", "homogeneous"), "zh": ("色素网", "球", "均质")}),
    Structures("bkl", "bkl-dermoscopy",
               {"en": "milia-like cysts, comedo-like openings, fissures and ridges, a sharp moth-eaten border or fingerprint-like lines",
                "zh": "粟粒样囊肿、粉刺样开口、沟嵴（脑回样）结构、锐利的虫蚀状边缘或指纹样线条"},
               {"en": ("milia-like", "comedo-like", "moth-eaten", "fingerprint"), "zh": ("粟粒样囊肿", "粉刺样开口", "虫蚀", "指纹")}),
    Structures("df", "df-dermoscopy",
               {"en": "a central white scar-like patch with a delicate peripheral pigment network, and dimpling when squeezed",
                "zh": "中央白色瘢痕样斑片伴周边纤细的色素网，侧方挤压时出现凹陷"},
               {"en": ("central white", "network"), "zh": ("白色", "色素网")}),
    Structures("vasc", "vasc-dermoscopy",
               {"en": "red, red-blue or purple lacunae separated by pale septa",
                "zh": "由浅色间隔分开的红色、红蓝色或紫色腔隙"},
               {"en": ("lacun", "septa"), "zh": ("腔隙",)}),
    Structures("bcc", "bcc-dermoscopy",
               {"en": "arborizing vessels, leaf-like and spoke-wheel areas, large blue-grey ovoid nests, ulceration and shiny white "
                      "structures, without a pigment network",
                "zh": "树枝状血管、叶状区域和轮辐状结构、大的蓝灰色卵圆巢、溃疡和亮白色结构，且没有色素网"},
               {"en": ("arborizing", "leaf-like", "spoke-wheel", "ovoid nests"), "zh": ("树枝状", "叶状", "轮辐", "卵圆巢")}),
    Structures("akiec", "akiec-dermoscopy",
               {"en": "a red pseudonetwork around white follicle openings (the strawberry pattern) with scale, or clustered glomerular "
                      "vessels with scale in Bowen's disease",
                "zh": "围绕白色毛囊开口的红色假网（草莓状模式）伴鳞屑，或鲍温病中成簇的肾小球样血管伴鳞屑"},
               {"en": ("strawberry", "glomerular", "scale"), "zh": ("草莓", "肾小球样", "鳞屑")}),
)}

assert set(STRUCTURES) == set(CODES), "every class needs its structures"


def expectations_for(code: str) -> list[Expectation]:
    return [e for e in EXPECTATIONS if e.code == code]


def statement_doc(key: str) -> tuple[str, dict[Language, str]]:
    """(document id, text by language) of an expectation key or ``structures:<code>``."""
    if key.startswith("structures:"):
        s = STRUCTURES[key.split(":", 1)[1]]
        return s.doc, s.text
    e = next(e for e in EXPECTATIONS if e.key == key)
    return e.doc, e.text
