"""Corruptions: deterministic per seed, same size, stronger with severity, and each does what its name says."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evals.corruptions import CORRUPTIONS, SEVERITIES, corrupt, image_seed
from knowledge.images import open_image


@pytest.fixture(scope="module")
def lesion(dataset, split):
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "mel")
    return open_image(record.image_path)


def _diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_every_corruption_is_deterministic_keeps_size_and_grows_with_severity(lesion, name):
    seed = image_seed("ISIC_test", name, 3)
    first, again = corrupt(lesion, name, 3, seed), corrupt(lesion, name, 3, seed)
    assert first.size == lesion.size and first.mode == "RGB"
    assert np.array_equal(np.asarray(first), np.asarray(again))
    mild, severe = _diff(lesion, corrupt(lesion, name, 1, seed)), _diff(lesion, corrupt(lesion, name, 5, seed))
    assert 0 < mild < severe


def test_corruptions_do_what_their_names_say(lesion):
    arr = np.asarray(lesion, np.float32)
    dark = np.asarray(corrupt(lesion, "brightness", 5), np.float32)
    assert dark.mean() < 0.35 * arr.mean()
    flat = np.asarray(corrupt(lesion, "contrast", 5), np.float32)
    assert flat.std() < 0.3 * arr.std()
    corners = np.asarray(corrupt(lesion, "black_corners", 3), np.float32)
    assert corners[0, 0].max() == 0 and corners[-1, -1].max() == 0  # the lens frame is black
    assert np.allclose(corners[75, 100], arr[75, 100], atol=1)  # the centre is untouched
    hairy = np.asarray(corrupt(lesion, "hair", 5, seed=1), np.float32)
    changed = np.abs(hairy - arr).sum(2) > 30
    assert 0.01 < changed.mean() < 0.3 and hairy[changed].mean() < arr[changed].mean()  # thin dark strands
    blurred = corrupt(lesion, "gaussian_blur", 5).convert("L")
    assert np.abs(np.diff(np.asarray(blurred, np.float32), axis=1)).mean() < 0.6 * np.abs(
        np.diff(np.asarray(lesion.convert("L"), np.float32), axis=1)).mean()


def test_different_seeds_give_different_noise_and_bad_arguments_are_refused(lesion):
    a, b = corrupt(lesion, "gaussian_noise", 2, seed=1), corrupt(lesion, "gaussian_noise", 2, seed=2)
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    assert image_seed("ISIC_1", "hair", 2) == image_seed("ISIC_1", "hair", 2) != image_seed("ISIC_2", "hair", 2)
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(lesion, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(lesion, "jpeg", 6)
    assert SEVERITIES == (1, 2, 3, 4, 5)


def test_strength_scales_with_resolution(lesion):
    """A 4x larger copy is blurred about as much, relative to its size, as the original."""
    big = lesion.resize((800, 600), Image.Resampling.BICUBIC)
    small_blur = corrupt(lesion, "gaussian_blur", 4)
    big_blur = corrupt(big, "gaussian_blur", 4).resize(lesion.size, Image.Resampling.BICUBIC)
    reference = big.resize(lesion.size, Image.Resampling.BICUBIC)
    assert abs(_diff(reference, big_blur) - _diff(lesion, small_blur)) < 0.5 * _diff(lesion, small_blur)
