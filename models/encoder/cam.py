"""Where the classifier looked: a class-activation map (LayerCAM) of an encoder for one class.

    raw = layer_cam(encoder, img, "mel")              # tower frame, signed, un-normalised
    part = to_image(raw, img.size, encoder)           # on the image; a crop's map with ``box=`` (lesion view)
    heat = normalise(part)                            # (H, W) in [0, 1]
    heat_overlay(img, heat).save("map.png")

LayerCAM (Jiang et al., IEEE TIP 2021): each location of a feature map is weighted by the positive part of
the class logit's gradient there, summed over channels. It is taken at the end of the encoder's last
1/16-resolution stage (``ImageTower.explain_layers``): chosen on 120 val images by the pointing game
(the map's peak inside the annotated lesion): 0.93 for the ensemble there, against 0.87 at the last
(1/32) map and 0.73 for plain Grad-CAM, whose weights are uniform in space here because the class head
sees only the spatial mean. With the encoder's flip TTA the map is the mean of the image's and the
mirrored image's maps (mirrored back). A map taken in the tower's input frame (``fit_to_frame``'s 4:3
centre crop) is put back on the image; what the crop left out is 0.

What it is: which regions raised this class's score, per member, weighted as the ensemble weights the
members. What it is not: a segmentation, proof that a dermoscopic structure was recognised, or an account
of the patient-metadata prior; a coarse map (12x9 cells at 192x144), smooth by construction.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from knowledge.taxonomy import CODES

from models.encoder.model import DermEncoder
from models.encoder.preprocess import frame_window, to_batch

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the image


def _layer_cam(encoder: DermEncoder, x: torch.Tensor, index: int) -> np.ndarray:
    with torch.no_grad():
        fmap, rest = encoder.tower.explain_layers(x)
    fmap = fmap.detach().requires_grad_(True)
    _, logits = encoder.heads(rest(fmap))
    (grad,) = torch.autograd.grad(logits[0, index], fmap)
    return (torch.relu(grad) * fmap).sum(dim=1)[0].detach().float().numpy().copy()


def layer_cam(encoder: DermEncoder, img: Image.Image, code: str) -> np.ndarray:
    """LayerCAM of class ``code`` in the tower's input frame (h, w): signed, not normalised."""
    if code not in CODES:
        raise ValueError(f"unknown class {code!r}; expected one of {', '.join(CODES)}")
    index = CODES.index(code)
    x = to_batch([img.convert("RGB")], encoder.tower.spec)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.enable_grad():
            cam = _layer_cam(encoder, x, index)
            if encoder.config.tta_flip:
                cam = (cam + _layer_cam(encoder, torch.flip(x, dims=[3]), index)[:, ::-1]) / 2
    finally:
        encoder.train(was_training)
    return cam


def _resize(values: np.ndarray, width: int, height: int) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    out = Image.fromarray((scaled * 65535).astype(np.uint16)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(out, np.float32) / 65535 * (hi - lo) + lo


def to_image(cam: np.ndarray, size: tuple[int, int], input_size: tuple[int, int], box: Box | None = None) -> np.ndarray:
    """A tower-frame map on an image of ``size`` (width, height): undoing ``fit_to_frame``'s crop and quarter
    turn, inside ``box`` for a crop's map (scaled by the image/crop area, so each member's map keeps its
    total weight however large its view)."""
    width, height = size
    if box is not None:
        left, top, right, bottom = (round(box[0] * width), round(box[1] * height), round(box[2] * width),
                                    round(box[3] * height))
        inner = to_image(cam, (max(right - left, 1), max(bottom - top, 1)), input_size)
        full = np.zeros((height, width), np.float32)
        full[top:bottom, left:right] = inner[: bottom - top, : right - left] * (width * height) / inner.size
        return full
    turned, (left, top, right, bottom) = frame_window(width, height, input_size)
    frame_w, frame_h = (height, width) if turned else (width, height)
    full = np.zeros((frame_h, frame_w), np.float32)
    full[top:bottom, left:right] = _resize(cam, right - left, bottom - top)
    if turned:  # fit_to_frame turned the image 90 degrees anticlockwise (ROTATE_90): turn the map back
        full = np.rot90(full, k=-1)
    return np.ascontiguousarray(full)


def normalise(heat: np.ndarray) -> np.ndarray:
    """The positive part, scaled to [0, 1] (all 0 when nothing raised the class)."""
    heat = np.maximum(heat, 0)
    peak = float(heat.max())
    return (heat / peak).astype(np.float32) if peak > 0 else np.zeros_like(heat, dtype=np.float32)


def class_activation_map(encoder: DermEncoder, img: Image.Image, code: str) -> np.ndarray:
    """One encoder's map of ``code`` on the whole image: (img.height, img.width) in [0, 1]."""
    return normalise(to_image(layer_cam(encoder, img, code), img.size, encoder.tower.spec.input_size))


def heat_overlay(img: Image.Image, heat: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The image with the map laid over it (untouched where the map is 0; dark red to yellow where it is high)."""
    from matplotlib import colormaps

    rgb = np.asarray(img.convert("RGB"), np.float32) / 255.0
    colours = colormaps["inferno"](heat)[..., :3]
    weight = (alpha * np.clip(heat, 0, 1) ** 0.7)[..., None]
    out = rgb * (1 - weight) + colours * weight
    return Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8))


def peak_location(heat: np.ndarray) -> tuple[int, int]:
    """(x, y) of the map's maximum."""
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return int(x), int(y)
