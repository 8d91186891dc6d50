"""Val robustness of single encoder artifacts, for choosing ensemble members (docs/encoder.md, "After v5").

The robustness suite measures the shipped classifier on test; this measures candidate *members* on **val** (a
class-balanced sample, the suite's corruptions and seeds), each alone, at its calibrated argmax: the clean
balanced accuracy and the drop under each corruption, averaged over severities 1-5. Cheap enough (~5 min per
member on the 2 cores) to compare recipes before a member is adopted.

    python -m evals.member_robustness artifacts/encoder_lite2 var/candidates/encoder_lite2_robust
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from evals.corruptions import SEVERITIES, corrupt, image_seed
from evals.harness import EvalContext, balanced_sample
from evals.predictions import labels_of
from knowledge import metrics as M
from knowledge.images import open_image
from knowledge.taxonomy import CODES

CORRUPTIONS = ("jpeg", "brightness", "contrast", "gaussian_noise", "gaussian_blur", "hair")


def member_robustness(folders: Sequence[Path], sample: int = 140, corruptions: Sequence[str] = CORRUPTIONS,
                      severities: Sequence[int] = SEVERITIES, seed: int = 0) -> dict[str, dict]:
    """For each encoder artifact folder: clean balanced accuracy, mean drop, and mean drop per corruption."""
    from models.encoder.artifact import load_encoder

    items = balanced_sample(EvalContext(out_dir=Path("/tmp"), split="val").items(), sample, seed)
    labels = labels_of(items)
    clean = [open_image(it.image_path) for it in items]
    conditions = [(c, s) for c in corruptions for s in severities]
    images = {cs: [corrupt(im, cs[0], cs[1], seed=image_seed(it.image_id)) for im, it in zip(clean, items)]
              for cs in conditions}
    out = {}
    for folder in folders:
        encoder = load_encoder(Path(folder), with_text=False)
        bias = np.asarray(encoder.class_bias)

        def balanced(imgs: list) -> float:
            margin = encoder.config.lesion_margin
            if margin is not None:  # a lesion-view member sees its crop, the segmenter's box found on the image it gets
                from models.encoder.lesion_view import lesion_view, segmenter_boxes

                imgs = [lesion_view(img, box, margin) for img, box in zip(imgs, segmenter_boxes(imgs))]
            _, z = encoder.image_outputs(imgs)
            return M.balanced_accuracy(labels, (z / encoder.temperature + bias).argmax(1), len(CODES))

        base = balanced(clean)
        drops = {cs: base - balanced(images[cs]) for cs in conditions}
        out[str(folder)] = {"n": len(items), "clean": base, "mean_drop": float(np.mean(list(drops.values()))),
                            "per_corruption": {c: float(np.mean([drops[(c, s)] for s in severities])) for c in corruptions}}
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="encoder artifact folders")
    parser.add_argument("--sample", type=int, default=140)
    args = parser.parse_args(argv)
    print(json.dumps(member_robustness(args.folders, args.sample), indent=1))


if __name__ == "__main__":
    main()
