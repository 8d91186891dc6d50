"""Build the out-of-distribution image set in evals/data/ood/ (committed; run again to rebuild).

Natural photos come from scikit-image's bundled sample data (CC0 / public domain; see SOURCES.md),
taken from its wheel with `pip download --no-deps scikit-image` and unzipped to SKIMAGE_DATA.
Synthetic cases (blank frames, documents, noise, screenshots) are drawn here. None of these images
tunes anything: the intake gate is calibrated on HAM10000 val images only.

    SKIMAGE_DATA=/path/to/skimage/data .venv/bin/python evals/data/make_ood.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent / "ood"
NATURAL = {
    "cat_chelsea.png": ("chelsea.png", "photo of a cat", "CC0, Stefan van der Walt"),
    "coffee_cup.png": ("coffee.png", "photo of a coffee cup", "CC0, Rachel Michetti"),
    "astronaut.png": ("astronaut.png", "portrait photo (NASA)", "public domain, NASA"),
    "rocket.jpg": ("rocket.jpg", "photo of a rocket launch", "public domain, SpaceX"),
    "horse_silhouette.png": ("horse.png", "binary silhouette", "CC0, Andreas Preuss"),
    "text_scan.png": ("text.png", "scanned text", "public domain"),
    "camera_man.png": ("camera.png", "greyscale photo of a person", "CC0, Lav Varshney"),
    "coins.png": ("coins.png", "greyscale photo of coins", "no known copyright restrictions"),
    "brick_wall.png": ("brick.png", "texture: bricks", "CC0, CC0Textures"),
    "grass.png": ("grass.png", "texture: grass", "CC0, CC0Textures"),
    "gravel.png": ("gravel.png", "texture: gravel", "CC0, CC0Textures"),
    "cell_microscopy.png": ("cell.png", "microscopy of a cell", "CC0"),
    "histology_ihc.png": ("ihc.png", "immunohistochemistry slide", "no known copyright restrictions"),
    "retina_fundus.jpg": ("retina.jpg", "retinal fundus photo (medical, not skin)", "CC0, Mikael Häggström"),
    "hubble_deep_field.jpg": ("hubble_deep_field.jpg", "astronomy image", "public domain, NASA"),
}


def _save(img: Image.Image, name: str) -> None:
    img = img.convert("RGB")
    img.thumbnail((400, 400))
    fmt = "JPEG" if name.endswith(".jpg") else "PNG"
    img.save(HERE / name, format=fmt, **({"quality": 85} if fmt == "JPEG" else {"optimize": True}))


def _document() -> Image.Image:
    img = Image.new("RGB", (400, 520), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    y = 30
    draw.text((30, y), "INVOICE #20261129", fill="black", font=font)
    for i in range(28):
        y += 16
        draw.text((30, y), f"Item {i:02d}  consultation fee ........ {17 * i % 97:>3d}.00 EUR", fill="black", font=font)
    draw.rectangle((25, 20, 375, y + 20), outline="black")
    return img


def _screenshot() -> Image.Image:
    img = Image.new("RGB", (400, 300), (240, 240, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 400, 28), fill=(60, 90, 160))
    draw.text((10, 8), "Settings", fill="white")
    for i in range(6):
        draw.rounded_rectangle((20, 45 + i * 40, 380, 75 + i * 40), radius=6, fill="white", outline=(200, 200, 210))
        draw.text((32, 55 + i * 40), f"Option {i + 1}", fill=(30, 30, 30))
    return img


def synthetic() -> dict[str, tuple[Image.Image, str]]:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:300, 0:400]
    return {
        "blank_white.png": (Image.new("RGB", (400, 300), "white"), "blank white frame"),
        "blank_black.png": (Image.new("RGB", (400, 300), "black"), "blank black frame (lens cap on)"),
        "blank_grey.png": (Image.new("RGB", (400, 300), (128, 128, 128)), "uniform grey"),
        "uniform_skin.png": (Image.new("RGB", (400, 300), (224, 172, 150)), "uniform skin tone, no lesion"),
        "gaussian_noise.png": (Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)), "random noise"),
        "colour_gradient.png": (
            Image.fromarray(np.stack([xx * 255 // 399, yy * 255 // 299, np.full_like(xx, 128)], -1).astype(np.uint8)),
            "smooth colour gradient",
        ),
        "checkerboard.png": (
            Image.fromarray((((xx // 25 + yy // 25) % 2) * 255).astype(np.uint8)).convert("RGB"), "checkerboard"
        ),
        "document_invoice.png": (_document(), "rendered document"),
        "app_screenshot.png": (_screenshot(), "app screenshot"),
    }


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ.get("SKIMAGE_DATA", "/tmp/skd/x/skimage/data"))
    index = {}
    for name, (src, what, licence) in NATURAL.items():
        _save(Image.open(source / src), name)
        index[name] = {"what": what, "source": f"scikit-image data/{src}", "licence": licence}
    for name, (img, what) in synthetic().items():
        _save(img, name)
        index[name] = {"what": what, "source": "drawn by evals/data/make_ood.py", "licence": "ours"}
    (HERE / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(index)} images to {HERE}")


if __name__ == "__main__":
    main()
