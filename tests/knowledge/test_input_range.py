"""The training photos' range (knowledge.input_range): the exposure floor, the deblocker, the denoiser and hair removal each leave
ordinary photos exactly as they are and bring a degraded one back toward the original."""

import numpy as np
import pytest
from PIL import Image

from knowledge.images import open_image


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


@pytest.mark.parametrize("name, share_above, low, high", [("Deblocker", 0.05, 1.3, 2.2),  # HAM's JPEGs: a mild grid
                                                        ("Denoiser", 0.0, 0.0499, 0.1),  # above every training photo
                                                        ("HairRemover", 0.10, 0.0, 0.05)])  # real hair on a tenth
def test_a_training_ceiling_leaves_ordinary_photos_exactly_as_they_are(floor_and_train, name, share_above, low, high):
    import knowledge.input_range as input_range

    cls = getattr(input_range, name)
    _, train = floor_and_train
    check = cls.fit(train)
    values = np.array([cls.statistic(img) for img in train])
    assert low < check.ceiling < high
    assert abs(np.mean(values > check.ceiling) - share_above) < 0.03
    assert all(check.apply(img) is img for img, v in list(zip(train, values))[:80] if v <= check.ceiling)


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


@pytest.fixture(scope="module")
def hair_and_train(floor_and_train):
    from knowledge.input_range import HairRemover

    _, train = floor_and_train
    return HairRemover.fit(train), train


def test_synthetic_hairs_are_found_and_filled_toward_the_photo_without_them(hair_and_train):
    """Dark strands drawn across a photo (the robustness suite's corruption) put it over the ceiling; filled, the
    photo is closer to the one without hairs, and the strands are mostly gone from the detector's view."""
    from evals.corruptions import corrupt
    from knowledge.input_range import HairRemover, hair_share

    remover, train = hair_and_train
    photos = [img for img in train[:40] if hair_share(img) <= remover.ceiling][:10]
    for k, img in enumerate(photos):
        hairy = corrupt(img, "hair", 4, seed=k)
        assert hair_share(hairy) > remover.ceiling
        fixed = remover.apply(hairy)
        original = np.asarray(img, dtype=np.float64)
        assert np.abs(np.asarray(fixed, dtype=np.float64) - original).mean() < 0.6 * np.abs(np.asarray(hairy, dtype=np.float64) - original).mean()
        assert hair_share(fixed) < 0.5 * hair_share(hairy)
    big = corrupt(photos[0].resize((800, 600), Image.Resampling.BICUBIC), "hair", 4, seed=0)  # judged at HAM's scale
    fixed = remover.apply(big)
    assert fixed.size == big.size and hair_share(fixed) < 0.5 * hair_share(big)
    assert HairRemover.from_dict(remover.to_dict()).to_dict() == remover.to_dict()
    with pytest.raises(ValueError, match="share of the image"):
        HairRemover(1.5)
    with pytest.raises(ValueError, match="at least one"):
        HairRemover.fit([])


def test_a_noisy_photo_is_denoised_toward_the_original_and_mild_noise_is_left_alone(floor_and_train):
    """Gaussian noise of std 0.08-0.15 (the robustness suite's severities 3-5) puts a photo above the gate; denoised,
    it is closer to the photo without noise and far less noisy. Std 0.03 (severity 1) stays under the gate, and so does
    a photo under dense synthetic hair (the median estimate is not raised by strands): both pass through as they are."""
    from evals.corruptions import corrupt
    from knowledge.input_range import Denoiser, noise_level

    _, train = floor_and_train
    denoiser = Denoiser.fit(train)
    for k, img in enumerate(train[:8]):
        original = np.asarray(img, dtype=np.float64)
        mild = corrupt(img, "gaussian_noise", 1, seed=k)
        assert noise_level(mild) < denoiser.ceiling and denoiser.apply(mild) is mild
        for severity in (3, 5):
            noisy = corrupt(img, "gaussian_noise", severity, seed=k)
            assert noise_level(noisy) > denoiser.ceiling
            fixed = denoiser.apply(noisy)
            assert fixed.size == img.size and noise_level(fixed) < 0.5 * noise_level(noisy)
            assert np.abs(np.asarray(fixed, dtype=np.float64) - original).mean() < 0.7 * np.abs(np.asarray(noisy, dtype=np.float64) - original).mean()
    assert denoiser.noise_power(denoiser.ceiling) == 0 < denoiser.noise_power(denoiser.ceiling + 0.001) < denoiser.noise_power(0.5)
    assert Denoiser.from_dict(denoiser.to_dict()).to_dict() == denoiser.to_dict()
    assert noise_level(Image.new("RGB", (2, 2))) == 0.0 and noise_level(Image.new("RGB", (60, 40), (90, 60, 40))) == 0.0
    for k, img in enumerate(train[:8]):  # dense hair strands are structure, not noise: never above the gate
        hairy = corrupt(img, "hair", 5, seed=k)
        assert noise_level(hairy) < 0.5 * denoiser.ceiling and denoiser.apply(hairy) is hairy
    big = corrupt(train[0].resize((1600, 1200), Image.Resampling.BICUBIC), "gaussian_noise", 5, seed=0)
    assert noise_level(big) > denoiser.ceiling and denoiser.apply(big) is big  # reduced >= 5x for the members
    with pytest.raises(ValueError, match="noise level"):
        Denoiser(1.5)


def test_the_input_range_fits_the_named_checks_in_one_pass_and_applies_them_in_order(floor_and_train):
    """``InputRange`` is the one home of which checks a head carries: fitted together from one read of each photo,
    equal to the checks fitted one by one, round-tripped through its dict, and applied floor -> deblocker ->
    denoiser -> hair. An unknown check is refused; no check reads no photo."""
    from knowledge.input_range import DEFAULT_INPUT_RANGE, DENOISE_MIN_GATE, Deblocker, Denoiser, ExposureFloor, InputRange

    floor, train = floor_and_train
    photos = train[:120]
    checks = InputRange.fit(photos)
    assert checks.keys == DEFAULT_INPUT_RANGE and checks.hair is None
    assert checks.deblocker.ceiling == Deblocker.fit(photos).ceiling and checks.denoiser.ceiling == Denoiser.fit(photos).ceiling
    assert checks.exposure_floor.to_dict() == ExposureFloor.fit(photos).to_dict()
    assert InputRange.from_dict({**checks.to_dict(), "weights": [1.0]}).to_dict() == checks.to_dict()  # from a head's wider dict
    inside = next(img for img in photos if all(getattr(checks, k).apply(img) is img for k in checks.keys))
    assert checks.apply(inside) is inside
    dark_noisy = Image.fromarray(np.clip(np.asarray(inside, dtype=np.float64) * 0.3
                                         + np.random.default_rng(0).normal(0, 30, np.asarray(inside).shape), 0, 255).astype(np.uint8))
    by_hand = checks.denoiser.apply(checks.deblocker.apply(checks.exposure_floor.lift(dark_noisy)))
    assert np.array_equal(np.asarray(checks.apply(dark_noisy)), np.asarray(by_hand))
    assert not np.array_equal(np.asarray(by_hand), np.asarray(checks.exposure_floor.lift(dark_noisy)))  # denoised too
    fixed, notes = checks.apply_noting(dark_noisy)  # which checks changed it: what the answer tells the user
    assert np.array_equal(np.asarray(fixed), np.asarray(by_hand)) and {"exposure_floor", "denoiser"} <= set(notes)
    assert checks.apply_noting(inside) == (inside, ())
    assert InputRange.fit(iter(()), ()) == InputRange() and InputRange().apply(inside) is inside
    lines = checks.describe()  # the training log: one line per check carried, with its fitted value
    assert len(lines) == len(checks.keys) and InputRange().describe() == []
    assert f"{checks.deblocker.ceiling:.4f}" in lines[1] and f"at least {DENOISE_MIN_GATE:g}" in lines[2]
    with pytest.raises(ValueError, match="unknown input checks sharpen"):
        InputRange.fit(photos, ("exposure_floor", "sharpen"))


def test_a_blurred_photo_is_sharpened_back_into_the_training_range_and_sharp_ones_are_left_alone(floor_and_train):
    """A Gaussian blur of 1.6-3.5 px (the robustness suite's severities 3-5) leaves a photo less sharp than every
    training photo; unsharp-masked, it is at least twice as sharp, about as sharp as the least sharp training photo or
    more, and nearer the original's sharpness; its pixels are no further from the original's. Training photos, and a sharp photo enlarged to 1,600 px (judged at
    HAM10000's scale), pass through as they are."""
    from evals.corruptions import corrupt
    from knowledge.input_range import Sharpener, sharpness

    _, train = floor_and_train
    sharpener = Sharpener.fit(train)
    assert 0.004 < sharpener.ceiling < 0.012 and all(sharpener.apply(img) is img for img in train[:80])
    for k, img in enumerate(train[:8]):
        for severity in (3, 5):
            blurred = corrupt(img, "gaussian_blur", severity, seed=k)
            assert sharpness(blurred) < sharpener.ceiling
            fixed = sharpener.apply(blurred)
            assert fixed.size == img.size and sharpness(fixed) > max(2 * sharpness(blurred), 0.9 * sharpener.ceiling)
            assert abs(sharpness(fixed) - sharpness(img)) < abs(sharpness(blurred) - sharpness(img))
        original = np.asarray(img, dtype=np.float64)
        assert np.abs(np.asarray(fixed, dtype=np.float64) - original).mean() < np.abs(np.asarray(blurred, dtype=np.float64) - original).mean() + 0.1
    assert sharpener.radius(sharpener.ceiling) == 0 < sharpener.radius(sharpener.ceiling * 0.99) <= sharpener.radius(1e-4) == 5.0
    big = train[0].resize((1600, 1200), Image.Resampling.BICUBIC)
    assert abs(sharpness(big) - sharpness(train[0])) < 0.3 * sharpness(train[0]) and sharpener.apply(big) is big
    assert Sharpener.from_dict(sharpener.to_dict()).to_dict() == sharpener.to_dict()
    with pytest.raises(ValueError, match="sharpening gate"):
        Sharpener(0.0)
