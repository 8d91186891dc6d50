"""The intake gate's noise and graphics checks: random noise, logos and icons with transparency are refused with
the reason that fits, in both languages; real dermoscopy passes them (val by construction, test measured here)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from agents.intake import CHECKS, image_statistics
from knowledge.images import open_image

NOISE = "it looks like random noise"
GRAPHIC = "it looks like a drawing, logo, icon or screenshot"


@pytest.fixture(scope="module")
def gate(resources):
    return resources.intake_gate


def as_upload(img: Image.Image, fmt: str = "PNG") -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return open_image(buf.getvalue())  # as the app and the CLI read an upload


def noise_images() -> dict[str, Image.Image]:
    rng = np.random.default_rng(7)
    return {
        "uniform": Image.fromarray(rng.integers(0, 256, (450, 600, 3), dtype=np.uint8)),
        "skin-coloured": Image.fromarray(np.clip(rng.normal([205, 150, 125], 30, (450, 600, 3)), 0, 255).astype(np.uint8)),
        "large": Image.fromarray(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)),
        "small, upscaled": Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).resize((600, 450)),
    }


def graphic_images() -> dict[str, Image.Image]:
    logo = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    d.ellipse((60, 60, 450, 450), fill=(190, 110, 80, 255))
    d.rectangle((210, 150, 300, 360), fill=(110, 50, 35, 255))
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    d = ImageDraw.Draw(icon)
    d.ellipse((4, 4, 60, 60), fill=(150, 90, 70, 255))
    d.ellipse((22, 22, 42, 42), fill=(80, 40, 30, 255))
    badge = Image.new("RGB", (600, 450), (240, 220, 210))
    d = ImageDraw.Draw(badge)
    d.ellipse((180, 110, 420, 340), fill=(140, 80, 60))
    d.text((20, 20), "LOGO", fill=(20, 20, 20))
    return {"transparent logo": logo, "transparent icon": icon, "flat drawing": badge}


@pytest.mark.parametrize("name", list(noise_images()))
def test_noise_is_refused_as_noise(gate, name):
    result = gate.check(as_upload(noise_images()[name]))
    assert not result.accepted and result.reason.startswith(f"this does not look like a usable dermoscopy image: {NOISE}")
    assert "随机噪声" in result.reason_zh


@pytest.mark.parametrize("name", list(graphic_images()))
def test_logos_icons_and_drawings_are_refused_as_graphics(gate, name):
    result = gate.check(as_upload(graphic_images()[name]))
    assert not result.accepted and result.reason.startswith(f"this does not look like a usable dermoscopy image: {GRAPHIC}")
    assert "标志" in result.reason_zh


def test_every_failed_check_is_named_the_most_specific_first(gate):
    blank = gate.check(Image.new("RGB", (600, 450), (200, 150, 130)))
    assert not blank.accepted and blank.reason.split(": ", 1)[1].startswith(CHECKS["luminance_std"][1])
    assert "; also, " in blank.reason and "；此外，" in blank.reason_zh


def test_real_dermoscopy_passes_the_new_checks(gate, dataset, split):
    test = [r for r in dataset if split[r.image_id] == "test"][::20]  # 101 images, every class
    limits = gate.calibration.thresholds
    for record in test:
        stats = image_statistics(open_image(record.image_path))
        assert stats["neighbour_correlation"] >= limits["neighbour_correlation"], record.image_id
        assert stats["graphic"] <= limits["graphic"], record.image_id
    jpeg = as_upload(open_image(test[0].image_path), "JPEG")  # recompressed: still a photograph
    stats = image_statistics(jpeg)
    assert stats["neighbour_correlation"] >= limits["neighbour_correlation"] and stats["graphic"] <= limits["graphic"]


def test_a_photo_squeezed_to_jpeg_blocks_is_told_so_not_called_a_drawing(gate, dataset, split):
    """Saved at JPEG quality 8 (as some chat apps forward photos) a real dermoscopy photo fails the graphics check;
    the refusal names the compression and asks for the original, in both languages. A PNG drawing is still a drawing."""
    squeezed = open_image(dataset.get("ISIC_0024313").image_path)  # the app's example melanoma (flat areas once squeezed)
    buf = io.BytesIO()
    squeezed.save(buf, "JPEG", quality=8)
    result = gate.check(open_image(buf.getvalue()))
    assert not result.accepted and "too heavily JPEG-compressed" in result.reason and GRAPHIC not in result.reason
    assert "压缩得太厉害" in result.reason_zh and "原始照片" in result.reason_zh
    drawing = gate.check(as_upload(graphic_images()["flat drawing"]))
    assert GRAPHIC in drawing.reason and "compressed" not in drawing.reason
