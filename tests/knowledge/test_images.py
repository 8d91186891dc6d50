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


@pytest.fixture(scope="module")
def floor_and_train(dataset, split):
    from knowledge.input_range import ExposureFloor
    from knowledge.splits import records_in

    train = [open_image(r.image_path) for r in records_in(dataset, split, "train")[:400]]
    return ExposureFloor.fit(train), train


def _darker(img, factor):
    return Image.fromarray((np.asarray(img, dtype=np.float64) * factor + 0.5).astype(np.uint8))


def test_the_exposure_floor_leaves_ordinary_photos_exactly_as_they_are(floor_and_train):
    from knowledge.input_range import exposure_stats

    floor, train = floor_and_train
    above = [img for img in train if not floor.below(img)]
    assert 0.85 * len(train) <= len(above) < len(train)  # the 5th percentiles: most are untouched, a few are not
    assert all(floor.lift(img) is img for img in above[:50])
    b, c = zip(*(exposure_stats(img) for img in train))
    assert abs(np.mean(np.array(b) < floor.brightness) - 0.05) < 0.02 and abs(np.mean(np.array(c) < floor.contrast) - 0.05) < 0.02


def test_an_under_exposed_photo_is_lifted_to_the_floor_and_back_toward_the_original(floor_and_train):
    from knowledge.input_range import exposure_stats

    floor, train = floor_and_train
    img = next(im for im in train if exposure_stats(im)[0] > floor.brightness * 1.1 and exposure_stats(im)[1] > floor.contrast * 1.5)
    dark = _darker(img, 0.3)
    assert floor.below(dark)
    lifted = floor.lift(dark)
    assert exposure_stats(lifted)[0] == pytest.approx(floor.brightness, abs=0.01)  # up to the floor, not beyond
    original = np.asarray(img, dtype=np.float64)
    assert np.abs(np.asarray(lifted, dtype=np.float64) - original).mean() < 0.5 * np.abs(np.asarray(dark, dtype=np.float64) - original).mean()
    assert lifted.size == img.size and lifted.mode == "RGB"


def test_a_flat_photo_is_stretched_to_the_floor_contrast_and_the_floor_validates(floor_and_train):
    from knowledge.input_range import ExposureFloor, exposure_stats

    floor, train = floor_and_train
    arr = np.asarray(train[0], dtype=np.float64)
    flat = Image.fromarray((arr.mean() + (arr - arr.mean()) * 0.2 + 0.5).astype(np.uint8))
    assert exposure_stats(flat)[1] < floor.contrast
    assert exposure_stats(floor.lift(flat))[1] == pytest.approx(floor.contrast, abs=0.005)
    assert ExposureFloor.from_dict(floor.to_dict()).to_dict() == floor.to_dict()
    black = Image.new("RGB", (40, 30))  # nothing to lift: the caps keep it from blowing up, it stays black
    assert np.asarray(floor.lift(black)).max() == 0
    with pytest.raises(ValueError, match="brightness and contrast"):
        ExposureFloor(0.0, 0.05)
    with pytest.raises(ValueError, match="at least one"):
        ExposureFloor.fit([])


def _jpeg(img, quality):
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


@pytest.fixture(scope="module")
def deblocker_and_train(floor_and_train):
    from knowledge.input_range import Deblocker

    _, train = floor_and_train
    return Deblocker.fit(train), train


def test_the_deblocker_leaves_ordinary_photos_exactly_as_they_are(deblocker_and_train):
    from knowledge.input_range import blockiness

    deblocker, train = deblocker_and_train
    values = np.array([blockiness(img) for img in train])
    assert 1.3 < deblocker.ceiling < 2.2  # HAM10000's own JPEGs carry a mild block grid
    assert abs(np.mean(values > deblocker.ceiling) - 0.05) < 0.02
    ordinary = [img for img, v in zip(train, values) if v <= deblocker.ceiling]
    assert all(deblocker.apply(img) is img for img in ordinary[:50])


def test_a_heavily_compressed_photo_is_deblocked_toward_the_original(deblocker_and_train):
    """Saved again at JPEG quality 10, every photo tried is blockier than the ceiling; deblocked, each is closer to
    the photo before compression and no longer blockier than a training photo."""
    from knowledge.input_range import Deblocker, blockiness

    deblocker, train = deblocker_and_train
    for img in train[:12]:
        squeezed = _jpeg(img, 10)
        assert blockiness(squeezed) > deblocker.ceiling + 1
        fixed = deblocker.apply(squeezed)
        assert fixed.size == img.size and blockiness(fixed) <= deblocker.ceiling
        original = np.asarray(img, dtype=np.float64)
        assert np.abs(np.asarray(fixed, dtype=np.float64) - original).mean() < np.abs(np.asarray(squeezed, dtype=np.float64) - original).mean()
    assert deblocker.sigma(deblocker.ceiling) == 0 < deblocker.sigma(deblocker.ceiling + 0.01) < deblocker.sigma(deblocker.ceiling + 5)
    assert Deblocker.from_dict(deblocker.to_dict()).to_dict() == deblocker.to_dict()
    assert blockiness(Image.new("RGB", (6, 6))) == 1.0  # too small to hold a block grid
    with pytest.raises(ValueError, match="blockiness ratio"):
        Deblocker(0.5)
    with pytest.raises(ValueError, match="at least one"):
        Deblocker.fit([])


def test_blockiness_is_read_on_the_block_grid_of_a_large_upload(deblocker_and_train):
    """A 1,600 px photo saved at quality 10 is read on a centred crop aligned to its 8x8 grid: blocky; the same photo
    shifted by 3 px after compression (its grid no longer where JPEG put it) is not."""
    from knowledge.input_range import blockiness

    _, train = deblocker_and_train
    big = _jpeg(train[0].resize((1600, 1200), Image.Resampling.BICUBIC), 10)
    assert blockiness(big) > 2
    shifted = big.crop((3, 3, 1600, 1200))
    assert blockiness(shifted) < 1.3
    deblocker, _ = deblocker_and_train
    assert deblocker.apply(big) is big  # reduced >= 5x for the members, its blocks average away: left as it is
    medium = _jpeg(train[0].resize((800, 600), Image.Resampling.BICUBIC), 10)
    assert blockiness(deblocker.apply(medium)) < blockiness(medium) - 1
