"""Measuring a lesion from an image and a mask: synthetic shapes with known answers, and real HAM10000 masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from models.features import FeatureStatement, LesionAnalysis, LesionFeatures, describe, measure_lesion, summarise
from models.features.config import BORDER, COLOUR_KEYS, SHAPE
from models.features.masks import read_mask

SKIN = (214, 170, 150)
BROWN = (120, 72, 50)
BLUE_GREY = (95, 105, 128)
IRREGULAR_MELANOMA = "ISIC_0031369"  # train split; a visibly lopsided, notched outline


def disc_image(radius: int = 40, size=(200, 150), colour=BROWN) -> tuple[np.ndarray, np.ndarray]:
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < radius**2
    img = np.empty((h, w, 3), np.uint8)
    img[:] = SKIN
    img[mask] = colour
    return img, mask


def test_a_symmetric_disc_measures_as_symmetric_round_and_one_coloured():
    img, mask = disc_image()
    f = measure_lesion(img, mask)
    assert max(f.shape_asymmetry) < 0.02 and max(f.colour_asymmetry) < 1.0
    assert f.asymmetric_axes == 0
    assert 0.99 < f.compactness < 1.05  # a circle is 1
    assert f.concavity < 0.02
    assert f.colours == ["dark_brown"] and f.colour_count == 1
    assert f.variegation < 1.0
    assert f.abrupt_segments == SHAPE.border_segments  # a hard-edged disc is abrupt all round
    assert f.area_fraction == pytest.approx(np.pi * 40**2 / (200 * 150), rel=0.03)
    assert f.diameter_fraction == pytest.approx(80 / 200, rel=0.03)


def test_a_real_irregular_melanoma_is_more_asymmetric_and_irregular_than_the_disc(dataset):
    record = dataset.get(IRREGULAR_MELANOMA)
    assert record.dx == "mel"
    f = measure_lesion(record.image_path, read_mask(record.mask_path))
    disc = measure_lesion(*disc_image())
    assert max(f.shape_asymmetry) > max(disc.shape_asymmetry) + 0.1
    assert f.asymmetric_axes >= 1
    assert f.compactness > BORDER["annotated"].irregular_compactness_above and f.concavity > disc.concavity + 0.05


def test_a_blue_grey_patch_is_found_as_blue_grey():
    img, mask = disc_image(radius=45)
    yy, xx = np.mgrid[:150, :200]
    patch = mask & (xx > 110)
    img[patch] = BLUE_GREY
    f = measure_lesion(img, mask)
    assert "blue_grey" in f.colours and "dark_brown" in f.colours
    assert f.colour_shares["blue_grey"] == pytest.approx(patch.sum() / mask.sum(), abs=0.1)
    assert f.colour_count == 2
    assert max(f.colour_asymmetry) > SHAPE.asymmetric_colour_above  # one half blue-grey, the other brown


def test_measurement_does_not_depend_on_the_image_resolution(dataset):
    record = dataset.get(IRREGULAR_MELANOMA)
    img = Image.open(record.image_path).convert("RGB")
    mask = read_mask(record.mask_path)
    small = measure_lesion(img, mask)
    big_img = img.resize((800, 600), Image.BICUBIC)
    big_mask = np.asarray(Image.fromarray(mask).resize((800, 600), Image.NEAREST))
    big = measure_lesion(big_img, big_mask)
    assert big.area_fraction == pytest.approx(small.area_fraction, abs=0.01)
    assert max(big.shape_asymmetry) == pytest.approx(max(small.shape_asymmetry), abs=0.02)
    assert big.compactness == pytest.approx(small.compactness, rel=0.05)


def test_ground_truth_masks_of_real_images_give_sane_values(dataset, split):
    records = [r for r in dataset if split[r.image_id] == "train"][:25]
    for r in records:
        f = measure_lesion(r.image_path, read_mask(r.mask_path))
        assert 0 < f.area_fraction <= 1 and 0 < f.diameter_fraction < 1.5
        assert all(0 <= a < 1 for a in f.shape_asymmetry) and 0 <= f.asymmetric_axes <= 2
        assert f.compactness >= 0.98 and 0 <= f.concavity < 1
        assert len(f.edge_steepness) == SHAPE.border_segments
        assert set(f.colour_shares) == set(COLOUR_KEYS) and sum(f.colour_shares.values()) <= 1.0 + 1e-6
        assert f.colour_count == len(f.colours) <= len(COLOUR_KEYS)
        assert all(np.isfinite(v) for v in f.scalars().values())


def test_bad_masks_are_refused_with_a_reason():
    img, mask = disc_image()
    with pytest.raises(ValueError, match="does not match the image"):
        measure_lesion(img, mask[:100])
    with pytest.raises(ValueError, match="at least"):
        measure_lesion(img, np.zeros_like(mask))


def test_every_statement_is_traceable_and_follows_the_thresholds():
    f = measure_lesion(*disc_image())
    statements = describe(f)
    assert [s.key for s in statements] == ["asymmetry", "border", "edge", "colours", "variegation", "size"]
    assert all(s.text_en and s.text_zh and s.values for s in statements)
    by_key = {s.key: s for s in statements}
    assert by_key["asymmetry"].text_en.startswith("symmetric about both axes")
    assert by_key["border"].text_en.startswith("regular")
    assert "1 colour: dark brown" in by_key["colours"].text_en and "深棕色" in by_key["colours"].text_zh
    assert "no physical scale" in by_key["size"].text_en
    assert by_key["size"].values["area_fraction"] == f.area_fraction

    lopsided = f.model_copy(update={"shape_asymmetry": (0.3, 0.2), "asymmetric_axes": 2, "compactness": 1.8,
                                    "colours": ["light_brown", "dark_brown", "black", "blue_grey"], "colour_count": 4})
    by_key = {s.key: s for s in describe(lopsided)}
    assert by_key["asymmetry"].text_en.startswith("asymmetric about both axes") and "0.30" in by_key["asymmetry"].text_en
    assert by_key["border"].text_en.startswith("irregular border") and "1.80" in by_key["border"].text_en
    assert by_key["colours"].text_en == "4 colours: light brown, dark brown, black and blue-grey"
    assert summarise(describe(lopsided), "zh").endswith("。")

    # The border is judged against naevi outlined the same way: the segmenter's outlines are smoother.
    between = f.model_copy(update={"compactness": 1.25, "concavity": 0.01})
    assert _border_words(between) == "regular"
    assert _border_words(between.model_copy(update={"outline": "segmenter"})) == "irregular"
    with pytest.raises(ValueError):
        summarise(describe(lopsided), "fr")  # type: ignore[arg-type]


def _border_words(f: LesionFeatures) -> str:
    text = next(s.text_en for s in describe(f) if s.key == "border")
    return text.split()[0].rstrip(",")


def test_results_survive_a_json_round_trip_mask_included():
    img, mask = disc_image()
    f = measure_lesion(img, mask)
    analysis = LesionAnalysis(delineated=True, mask=mask, features=f, statements=describe(f))
    payload = json.loads(analysis.model_dump_json())
    assert isinstance(payload["mask"], str) and len(payload["mask"]) < 2000  # a compact PNG, not a pixel list
    back = LesionAnalysis.model_validate_json(analysis.model_dump_json())
    assert np.array_equal(back.mask, mask) and back.features == f
    assert all(isinstance(s, FeatureStatement) for s in back.statements)
    assert LesionFeatures.model_validate(f.model_dump(mode="json")) == f
