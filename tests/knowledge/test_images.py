"""Every image enters through open_image: bad input gets a clear error, odd-but-valid input decodes."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from knowledge.images import ImageError, image_hash, open_image

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text())


def test_corpus_has_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert all((CORPUS / name).is_file() for name in CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_corpus_from_path_and_bytes(name):
    case = CASES[name]
    path = CORPUS / name
    for source in (path, path.read_bytes()):
        if case["expect"] == "error":
            with pytest.raises(ImageError, match=case["match"]):
                open_image(source)
        else:
            img = open_image(source)
            assert img.mode == "RGB" and list(img.size) == case["size"]


def test_file_over_the_size_limit_is_refused_before_decoding(tmp_path, settings):
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + b"\x00" * (settings.max_upload_bytes + 10))
    with pytest.raises(ImageError, match="limit is"):
        open_image(big)
    with pytest.raises(ImageError, match="limit is"):
        open_image(big.read_bytes())


def test_missing_file_and_folder_are_clear(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        open_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(tmp_path)


def test_transparency_is_composited_on_white_and_16_bit_keeps_contrast():
    transparent = open_image(CORPUS / "fully_transparent.png")
    assert np.asarray(transparent).min() == 255
    sixteen = np.asarray(open_image(CORPUS / "sixteen_bit.png"))
    grey = np.asarray(open_image(CORPUS / "greyscale.jpg"))
    assert abs(float(sixteen.mean()) - float(grey.mean())) < 3  # scaled 0-65535 -> 0-255, not clipped to white


def test_exif_orientation_is_applied():
    upright = open_image(CORPUS / "valid_lesion.jpg")
    rotated = open_image(CORPUS / "exif_rotated.jpg")
    assert rotated.size == (150, 200)
    expected = np.asarray(upright.transpose(Image.Transpose.ROTATE_270), dtype=float)
    assert np.abs(np.asarray(rotated, dtype=float) - expected).mean() < 6


def test_arrays_and_pil_images_are_accepted_and_hash_is_content_based():
    img = open_image(CORPUS / "valid_lesion.jpg")
    assert image_hash(open_image(np.asarray(img))) == image_hash(img)
    assert image_hash(open_image(img.copy())) == image_hash(img)
    assert image_hash(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) != image_hash(img)
    with pytest.raises(ImageError, match="not an HxWx3 image"):
        open_image(np.zeros((10, 10, 5), dtype=np.uint8))
