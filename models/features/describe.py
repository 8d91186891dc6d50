"""Plain-language statements from measured features, in English and Chinese.

Each statement is a phrase (the composer joins them with "; ") and carries the measured values
it rests on, so every word can be traced to a number. The words follow the cut-offs in
``models.features.config``.
"""

from __future__ import annotations

from knowledge.taxonomy import Language
from models.features.config import BORDER, COLOUR_RULES, COLOURS, SHAPE
from models.features.schema import FeatureStatement, LesionFeatures

_NAMES = {c.key: c for c in COLOURS}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _join_en(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _size(f: LesionFeatures) -> FeatureStatement:
    en = (
        f"covers {_pct(f.area_fraction)} of the image, longest diameter {_pct(f.diameter_fraction)} of the image's long side "
        "(relative to the image only: there is no physical scale without a ruler)"
    )
    zh = f"病变占图像面积的{_pct(f.area_fraction)}，最长径为图像长边的{_pct(f.diameter_fraction)}（仅相对于图像：没有标尺就没有实际尺寸）"
    if f.edges_touched:
        en += f"; it reaches {f.edges_touched} image edge{'s' if f.edges_touched > 1 else ''}, so it may extend beyond the photo"
        zh += f"；病变触及图像的{f.edges_touched}条边缘，实际范围可能超出照片"
    return FeatureStatement(
        key="size", text_en=en, text_zh=zh,
        values={"area_fraction": f.area_fraction, "diameter_fraction": f.diameter_fraction, "edges_touched": f.edges_touched},
    )


def _asymmetry(f: LesionFeatures) -> FeatureStatement:
    (s1, s2), (c1, c2) = f.shape_asymmetry, f.colour_asymmetry
    n = f.asymmetric_axes
    head_en = {0: "symmetric about both axes", 1: "asymmetric about one axis", 2: "asymmetric about both axes"}[n]
    head_zh = {0: "沿两条轴均对称", 1: "沿一条轴不对称", 2: "沿两条轴均不对称"}[n]
    detail_en = f"shape mismatch when mirrored {s1:.2f} and {s2:.2f}, colour difference between halves ΔE {c1:.0f} and {c2:.0f}"
    detail_zh = f"镜像后形状不重合比例{s1:.2f}和{s2:.2f}，两半颜色差ΔE {c1:.0f}和{c2:.0f}"
    return FeatureStatement(
        key="asymmetry", text_en=f"{head_en} ({detail_en})", text_zh=f"{head_zh}（{detail_zh}）",
        values={
            "asymmetric_axes": n, "shape_asymmetry": list(f.shape_asymmetry), "colour_asymmetry": list(f.colour_asymmetry),
            "shape_threshold": SHAPE.asymmetric_shape_above, "colour_threshold": SHAPE.asymmetric_colour_above,
        },
    )


def _border(f: LesionFeatures) -> FeatureStatement:
    cut = BORDER[f.outline]
    ragged = f.compactness > cut.irregular_compactness_above
    notched = f.concavity > cut.notched_concavity_above
    if ragged or notched:
        en, zh = "irregular border", "边界不规则"
    else:
        en, zh = "regular, smooth border", "边界规则、平滑"
    en += f" (compactness {f.compactness:.2f}, where a circle is 1.00; notches leave {_pct(f.concavity)} of the convex outline empty)"
    zh += f"（紧凑度{f.compactness:.2f}，圆形为1.00；凹陷占凸包轮廓的{_pct(f.concavity)}）"
    return FeatureStatement(
        key="border", text_en=en, text_zh=zh,
        values={
            "compactness": f.compactness, "concavity": f.concavity,
            "compactness_threshold": cut.irregular_compactness_above, "concavity_threshold": cut.notched_concavity_above,
            "outline": f.outline,
        },
    )


def _edge(f: LesionFeatures) -> FeatureStatement:
    n, total = f.abrupt_segments, SHAPE.border_segments
    if n == 0:
        en, zh = f"the pigment fades out gradually in all {total} border segments", f"{total}个边界段的色素均逐渐过渡"
    else:
        en, zh = f"abrupt edge in {n} of {total} border segments", f"{total}个边界段中有{n}段边缘截然中断"
    return FeatureStatement(
        key="edge", text_en=en, text_zh=zh,
        values={"abrupt_segments": n, "edge_steepness": list(f.edge_steepness), "threshold": SHAPE.abrupt_edge_above},
    )


def _colours(f: LesionFeatures) -> FeatureStatement:
    names_en = [_NAMES[k].name_en for k in f.colours]
    names_zh = [_NAMES[k].name_zh for k in f.colours]
    if not f.colours:
        en, zh = "no distinct dermoscopic colour (mostly skin-coloured)", "无明显的皮肤镜颜色（大部分接近肤色）"
    else:
        n = len(f.colours)
        en = f"{n} colour{'s' if n > 1 else ''}: {_join_en(names_en)}"
        zh = f"{n}种颜色：{'、'.join(names_zh)}"
    return FeatureStatement(
        key="colours", text_en=en, text_zh=zh,
        values={"colours": list(f.colours), "colour_count": f.colour_count, "colour_shares": dict(f.colour_shares),
                "min_share": COLOUR_RULES.min_share},
    )


def _variegation(f: LesionFeatures) -> FeatureStatement:
    v = f.variegation
    if v > COLOUR_RULES.variegation_marked_above:
        en, zh = "marked colour variation", "颜色变化明显"
    elif v < COLOUR_RULES.variegation_low_below:
        en, zh = "little colour variation", "颜色变化小"
    else:
        en, zh = "moderate colour variation", "颜色变化中等"
    return FeatureStatement(
        key="variegation", text_en=f"{en} (ΔE {v:.0f} from the mean colour)", text_zh=f"{zh}（与平均颜色相差ΔE {v:.0f}）",
        values={"variegation": v, "low_below": COLOUR_RULES.variegation_low_below,
                "marked_above": COLOUR_RULES.variegation_marked_above},
    )


def describe(features: LesionFeatures) -> list[FeatureStatement]:
    """Statements in ABCD order: asymmetry, border, edge, colours, variegation, then size."""
    return [_asymmetry(features), _border(features), _edge(features), _colours(features), _variegation(features),
            _size(features)]


def summarise(statements: list[FeatureStatement], lang: Language = "en") -> str:
    """The statements as one sentence in ``lang``."""
    if lang not in ("en", "zh"):
        raise ValueError(f"language {lang!r} is not one of en, zh")
    if lang == "zh":
        return "；".join(s.text_zh for s in statements) + "。"
    text = "; ".join(s.text_en for s in statements)
    return text[:1].upper() + text[1:] + "."
