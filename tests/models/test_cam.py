"""Heat maps (LayerCAM): they follow the image (a mirrored or turned image gives the mirrored or turned map),
point at the lesion on real images, and are put back on the uploaded image's own frame."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.encoder.cam import class_activation_map, heat_overlay, layer_cam, normalise, peak_location, to_image
from models.features.masks import read_mask


@pytest.fixture(scope="module")
def encoder():
    from models.encoder import load_encoder

    return load_encoder(with_text=False)


@pytest.fixture(scope="module")
def lesions(dataset, split):
    return [r for r in dataset if split[r.image_id] == "val" and r.mask_path is not None and r.dx in ("nv", "mel")][:12]


def test_maps_have_the_images_size_and_range(encoder, lesions):
    img = Image.open(lesions[0].image_path)
    heat = class_activation_map(encoder, img, "nv")
    assert heat.shape == (img.height, img.width) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown class"):
        class_activation_map(encoder, img, "melanoma")


def test_a_mirrored_image_gives_the_mirrored_map(encoder, lesions):
    img = Image.open(lesions[1].image_path).convert("RGB")
    heat = class_activation_map(encoder, img, "nv")
    mirrored = class_activation_map(encoder, img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "nv")
    assert np.abs(heat[:, ::-1] - mirrored).mean() < 0.02  # flip TTA makes the map mirror-symmetric in law


def test_a_portrait_upload_gets_its_map_in_its_own_orientation(encoder, lesions):
    img = Image.open(lesions[2].image_path).convert("RGB")
    heat = class_activation_map(encoder, img, "nv")
    portrait = img.transpose(Image.Transpose.ROTATE_270)  # turned a quarter clockwise: the tower turns it back
    turned = class_activation_map(encoder, portrait, "nv")
    assert turned.shape == (img.width, img.height)
    assert np.abs(np.rot90(heat, k=-1) - turned).mean() < 0.05


def test_a_crops_map_lands_inside_its_box_and_keeps_its_weight(encoder, lesions):
    img = Image.open(lesions[3].image_path).convert("RGB")
    raw = layer_cam(encoder, img, "nv")
    whole = to_image(raw, img.size, encoder.tower.spec.input_size)
    boxed = to_image(raw, img.size, encoder.tower.spec.input_size, box=(0.25, 0.25, 0.75, 0.75))
    ys, xs = np.nonzero(boxed)
    assert xs.min() >= 50 and xs.max() < 150 and ys.min() >= 37 and ys.max() < 113  # inside the box
    assert boxed.sum() == pytest.approx(whole.sum(), rel=0.05)  # the same total, four times as dense


def test_most_peaks_fall_inside_the_annotated_lesion(encoder, lesions):
    hits = []
    for record in lesions:
        img = Image.open(record.image_path)
        x, y = peak_location(class_activation_map(encoder, img, record.dx))
        hits.append(read_mask(record.mask_path, img.size)[y, x])
    assert np.mean(hits) >= 0.6  # the lesion covers about a fifth of an image; chance is far below this


def test_the_overlay_leaves_the_image_where_the_map_is_zero(lesions):
    img = Image.open(lesions[0].image_path).convert("RGB")
    heat = np.zeros((img.height, img.width), np.float32)
    heat[:10, :10] = 1.0
    out = np.asarray(heat_overlay(img, heat)).astype(int)
    original = np.asarray(img).astype(int)
    assert np.array_equal(out[20:, 20:], original[20:, 20:]) and np.abs(out[:10, :10] - original[:10, :10]).mean() > 10
    assert normalise(-np.ones((3, 3))).max() == 0
