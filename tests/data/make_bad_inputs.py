"""Generate the bad-input corpus in tests/data/bad_inputs/ (run once; the files are committed).

Every case is listed in ``cases.json`` with what must happen: ``"error"`` (a clear ImageError whose
message contains ``match``) or ``"ok"`` (decoded to an RGB image of the given size). An ``"ok"`` file is
then answered like any lesion, unless it has ``refused``: the intake gate's reason for refusing a
consultation about it (a blank frame, an image without colour); ``no_lesion``: what `features` says
when there is no lesion to outline. Files over the upload limit are made at test time instead of committed.

    .venv/bin/python tests/data/make_bad_inputs.py
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent / "bad_inputs"
REPO = HERE.parents[2]
SOURCE = REPO / "data" / "ham10000" / "images" / "part_1" / "ISIC_0024306.jpg"
# What the intake gate says when it refuses a consultation, and what `features` says with no lesion to outline.
BLANK = "does not look like a usable dermoscopy image: the image is blank or almost uniform"
NO_COLOUR = "does not look like a usable dermoscopy image: the image has almost no colour"
NO_LESION = "no lesion to outline"


def _lesion() -> Image.Image:
    return Image.open(SOURCE).convert("RGB")


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_bytes(img: Image.Image, **kw) -> bytes:
    return _encoded(img, "PNG", **kw)


def _jpeg_bytes(img: Image.Image, **kw) -> bytes:
    return _encoded(img, "JPEG", **kw)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG header claiming width x height, with a tiny compressed body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * 64, 9)  # far fewer rows than claimed: the header is the bomb
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def make() -> dict[str, dict]:
    HERE.mkdir(parents=True, exist_ok=True)
    lesion = _lesion()
    jpeg = SOURCE.read_bytes()
    cases: dict[str, tuple[bytes, dict]] = {}

    def err(name: str, data: bytes, match: str) -> None:
        cases[name] = (data, {"expect": "error", "match": match})

    def ok(name: str, data: bytes, size: tuple[int, int], refused: str | None = None, no_lesion: str | None = None) -> None:
        expectation: dict = {"expect": "ok", "size": list(size)}
        if refused:
            expectation["refused"] = refused
        if no_lesion:
            expectation["no_lesion"] = no_lesion
        cases[name] = (data, expectation)

    err("zero_bytes.jpg", b"", "empty")
    err("truncated.jpg", jpeg[: len(jpeg) // 3], "damaged or truncated")
    err("header_only.jpg", jpeg[:200], "damaged or truncated")
    err("text_renamed.jpg", b"This is not an image, it is a note about a mole.\n" * 20, "not an image format")
    err("html_renamed.png", b"<html><body><img src=x onerror=alert(1)></body></html>", "not an image format")
    err("document.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n", "PDF")
    err("drawing.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><circle cx="100" cy="75" r="40" fill="brown"/></svg>', "SVG")
    err("drawing_noxml.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "SVG")
    err("random_bytes.jpg", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not an image format")
    err("one_pixel.png", _png_bytes(Image.new("RGB", (1, 1), (120, 80, 60))), "too small")
    err("tiny_16x16.png", _png_bytes(lesion.resize((16, 16))), "too small")
    err("strip_10000x20.png", _png_bytes(Image.new("RGB", (10000, 20), (150, 100, 80))), "too small")
    err("strip_2000x100.png", _png_bytes(Image.new("RGB", (2000, 100), (150, 100, 80))), "too elongated")
    err("decompression_bomb.png", _bomb_png(30000, 30000), "pixels")
    err("corrupt_png_crc.png", _png_bytes(lesion)[:-20] + b"\x00" * 20, "damaged or truncated")
    err("gzip_renamed.png", zlib.compress(_png_bytes(lesion)), "not an image format")
    err("zip_renamed.jpg", b"PK\x03\x04" + b"\x00" * 200, "not an image format")

    ok("valid_lesion.jpg", jpeg, (200, 150))
    ok("cmyk.jpg", _jpeg_bytes(lesion.convert("CMYK")), (200, 150))
    ok("rgba.png", _png_bytes(lesion.convert("RGBA")), (200, 150))
    rgba = lesion.convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 0))
    ok("fully_transparent.png", _png_bytes(rgba), (200, 150), refused=BLANK, no_lesion=NO_LESION)
    ok("palette.png", _png_bytes(lesion.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)), (200, 150))
    ok("palette.gif", _gif(lesion), (200, 150))
    ok("greyscale.jpg", _jpeg_bytes(lesion.convert("L")), (200, 150), refused=NO_COLOUR)
    ok("greyscale_alpha.png", _png_bytes(lesion.convert("LA")), (200, 150), refused=NO_COLOUR)
    arr16 = (np.asarray(lesion.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    ok("sixteen_bit.png", _png_bytes(Image.fromarray(arr16)), (200, 150), refused=NO_COLOUR)
    ok("animated.gif", _animated_gif(lesion), (200, 150))
    ok("exif_rotated.jpg", _exif_rotated(lesion), (150, 200))
    ok("progressive.jpg", _jpeg_bytes(lesion, progressive=True, quality=85), (200, 150))
    ok("webp_image.webp", _encoded(lesion, "WEBP", quality=80), (200, 150))
    ok("bmp_image.bmp", _encoded(lesion, "BMP"), (200, 150))
    ok("tiff_image.tiff", _encoded(lesion, "TIFF"), (200, 150))
    ok("large_3000x2250.jpg", _jpeg_bytes(lesion.resize((3000, 2250)), quality=60), (3000, 2250))
    ok("png_as_jpg_extension.jpg", _png_bytes(lesion), (200, 150))
    ok("mole photo (copy) ünïcødé 黑色素瘤.jpg", jpeg, (200, 150))
    ok("-leading-dash.jpg", jpeg, (200, 150))
    ok("spaces and 'quotes'.jpg", jpeg, (200, 150))

    # Added for the CLI / graph / HTTP runs (issue 10).
    err("jpeg_header_bomb.jpg", _jpeg_claiming(jpeg, 60000, 60000), "pixels")
    err("ztxt_bomb.png", _png_bytes(lesion, pnginfo=_huge_text()), "damaged or truncated")
    err("heic_disguised.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 300, "not an image format")
    err("script_renamed.jpg", b"#!/bin/sh\nrm -rf / --no-preserve-root\n", "not an image format")
    ok("trailing_html.jpg", jpeg + b"<html><script>alert(1)</script></html>", (200, 150))
    ok("zip_appended.png", _png_bytes(lesion) + b"PK\x03\x04" + b"\x00" * 100, (200, 150))
    ok("exif_invalid_orientation.jpg", _exif_orientation(lesion, 9), (200, 150))
    ok("float32.tiff", _encoded(Image.fromarray(np.asarray(lesion.convert("L"), dtype=np.float32) / 255.0, mode="F"), "TIFF"), (200, 150),
       refused=NO_COLOUR)
    ok("apng_animated.png", _encoded(lesion, "PNG", save_all=True, append_images=[lesion.rotate(90)], duration=100), (200, 150))
    ok("netpbm.ppm", _encoded(lesion, "PPM"), (200, 150))
    ok("uniform_grey_not_a_lesion.png", _png_bytes(Image.new("RGB", (200, 150), (128, 128, 128))), (200, 150),
       refused=BLANK, no_lesion=NO_LESION)
    ok("..%2F..%2Fetc%2Fpasswd.jpg", jpeg, (200, 150))
    ok("emoji 🩺 and ＦＵＬＬＷＩＤＴＨ.jpg", jpeg, (200, 150))
    ok(".hidden_leading_dot.jpg", jpeg, (200, 150))
    ok("long_" + "x" * 200 + ".jpg", jpeg, (200, 150))

    manifest = {}
    for name, (data, expectation) in cases.items():
        (HERE / name).write_bytes(data)
        manifest[name] = expectation
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _gif(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("P").save(buf, format="GIF")
    return buf.getvalue()


def _animated_gif(img: Image.Image) -> bytes:
    frames = [img.convert("P"), img.rotate(90).convert("P"), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _exif_rotated(img: Image.Image) -> bytes:
    return _exif_orientation(img, 6)  # orientation 6: rotate 90 degrees clockwise to display


def _exif_orientation(img: Image.Image, value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return _jpeg_bytes(img, exif=exif.tobytes())


def _jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0/SOF2) claiming another size: a bomb by header."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]
    raise ValueError("no frame header found")


def _huge_text():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()  # a compressed text chunk that inflates past Pillow's limit
    info.add_text("Comment", "A" * (PngImagePlugin.MAX_TEXT_CHUNK + 10), zip=True)
    return info


if __name__ == "__main__":
    made = make()
    print(f"wrote {len(made)} cases to {HERE}")
