"""Where the classifier looked: a Grad-CAM heat map of the whole-image encoder for one class.

    heat = class_activation_map(encoder, img, "mel")   # (H, W) in [0, 1], the image's own size
    heat_overlay(img, heat).save("map.png")

Grad-CAM (Selvaraju et al., ICCV 2017): the gradient of the class's logit with respect to the last
convolutional feature map, averaged over space, weights that map's channels; the positive part of the
weighted sum is the map. With the encoder's flip TTA the map is the mean of the image's and the mirrored
image's maps (mirrored back). The map is taken in the tower's input frame (a landscape 4:3 centre crop,
``fit_to_frame``) and put back on the uploaded image; what the crop left out is 0.

What it is: which regions raised this class's score in the whole-image encoder, one member of the
ensemble. What it is not: a segmentation, a proof that the model "saw" a dermoscopic structure, or an
explanation of the lesion-view member or of the patient-metadata prior; a coarse map (6x5 cells at
192x144) that is smooth by construction.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from knowledge.taxonomy import CODES

from retrieval.encoder.model import DermEncoder
from retrieval.encoder.preprocess import frame_window, to_batch


def _cam(encoder: DermEncoder, x: torch.Tensor, index: int) -> np.ndarray:
    with torch.no_grad():
        fmap = encoder.tower.feature_map(x)  # (1, C, h, w): no gradient through the tower is needed
    fmap = fmap.detach().requires_grad_(True)
    _, logits = encoder.heads(fmap.mean(dim=(2, 3)))
    (grad,) = torch.autograd.grad(logits[0, index], fmap)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
    cam = torch.relu((weights * fmap).sum(dim=1))[0]  # (h, w)
    return cam.detach().float().numpy()


def class_activation_map(encoder: DermEncoder, img: Image.Image, code: str) -> np.ndarray:
    """Grad-CAM of ``code`` on ``img``: (img.height, img.width) floats in [0, 1] (all 0 when nothing raised it)."""
    if code not in CODES:
        raise ValueError(f"unknown class {code!r}; expected one of {', '.join(CODES)}")
    index = CODES.index(code)
    img = img.convert("RGB")
    x = to_batch([img], encoder.tower.spec)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.enable_grad():
            cam = _cam(encoder, x, index)
            if encoder.config.tta_flip:
                cam = (cam + _cam(encoder, torch.flip(x, dims=[3]), index)[:, ::-1]) / 2
    finally:
        encoder.train(was_training)
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    return _to_image_frame(cam, img.width, img.height, encoder.tower.spec.input_size)


def _to_image_frame(cam: np.ndarray, width: int, height: int, size: tuple[int, int]) -> np.ndarray:
    """The map from the tower's input frame back onto the uploaded image (undoing crop and quarter turn)."""
    turned, (left, top, right, bottom) = frame_window(width, height, size)
    resized = Image.fromarray((cam * 255).astype(np.uint8)).resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    frame_w, frame_h = (height, width) if turned else (width, height)
    full = np.zeros((frame_h, frame_w), np.float32)
    full[top:bottom, left:right] = np.asarray(resized, np.float32) / 255.0
    if turned:  # fit_to_frame turned the image 90 degrees anticlockwise (ROTATE_90): turn the map back
        full = np.rot90(full, k=-1)
    return np.ascontiguousarray(full)


def heat_overlay(img: Image.Image, heat: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """The image with the map laid over it (transparent where the map is 0; red-yellow where it is high)."""
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
