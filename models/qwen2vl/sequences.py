"""Prompt + answer sequences for Qwen2-VL, batched, with the prompt masked out of the labels.

One builder serves training (answer closed with ``<|im_end|>``, loss on the answer only) and
scoring (each class sentence appended to the same prompt, no end token, so the score is the
probability of the sentence whatever follows it). The prompt is the model's own chat template with
the image first and the question after it, which is also what LLaMA-Factory's ``qwen2_vl``
template produces from ``<image>question``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from PIL import Image

from knowledge.prompts import user_message
from models.qwen2vl.budget import CUTOFF_LEN, IMAGE_MAX_PIXELS, fit_pixels

IGNORE_INDEX = -100
END_OF_TURN = "<|im_end|>\n"


@dataclass(frozen=True)
class Example:
    image: Image.Image
    question: str
    answer: str = ""


def prompt_text(processor: Any, question: str) -> str:
    """The chat prompt up to and including ``<|im_start|>assistant\\n``."""
    return processor.apply_chat_template([user_message(question)], add_generation_prompt=True, tokenize=False)


def encode_prompt(processor: Any, image: Image.Image, question: str, max_pixels: int = IMAGE_MAX_PIXELS) -> dict[str, Any]:
    """Processor output for one image + question (input ids with the image tokens expanded)."""
    return processor(text=[prompt_text(processor, question)], images=[fit_pixels(image, max_pixels)], return_tensors="pt")


def build_batch(
    processor: Any,
    examples: Sequence[Example],
    end_turn: bool = True,
    max_pixels: int = IMAGE_MAX_PIXELS,
    max_length: int = CUTOFF_LEN,
) -> dict[str, Any]:
    """Right-padded model inputs plus ``labels`` (-100 on prompt and padding).

    Examples that share an image object and question are encoded once (the classifier appends
    seven class sentences to one prompt). A sequence longer than ``max_length`` is an error,
    never a silent truncation that could cut image tokens.
    """
    import torch

    if not examples:
        raise ValueError("build_batch needs at least one example")
    tokenizer = processor.tokenizer
    prompts: dict[tuple[int, str], dict[str, Any]] = {}
    rows: list[dict[str, list[int]]] = []
    pixel_values, grids = [], []
    for ex in examples:
        key = (id(ex.image), ex.question)
        if key not in prompts:
            prompts[key] = encode_prompt(processor, ex.image, ex.question, max_pixels)
        enc = prompts[key]
        answer = ex.answer + (END_OF_TURN if end_turn else "")
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] if answer else []
        prompt_ids = enc["input_ids"][0].tolist()
        length = len(prompt_ids) + len(answer_ids)
        if length > max_length:
            raise ValueError(f"sequence of {length} tokens exceeds max_length {max_length} (question {ex.question[:40]!r})")
        row = {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}
        row["attention_mask"] = [1] * length
        if "mm_token_type_ids" in enc:  # transformers >= 5.x: marks image tokens for the 3-D rotary positions
            row["mm_token_type_ids"] = enc["mm_token_type_ids"][0].tolist() + [0] * len(answer_ids)
        rows.append(row)
        pixel_values.append(enc["pixel_values"])
        grids.append(enc["image_grid_thw"])
    width = max(len(r["input_ids"]) for r in rows)
    pad_values = {"input_ids": tokenizer.pad_token_id, "labels": IGNORE_INDEX, "attention_mask": 0, "mm_token_type_ids": 0}
    batch: dict[str, Any] = {
        key: torch.tensor([r[key] + [pad_values[key]] * (width - len(r[key])) for r in rows], dtype=torch.long)
        for key in rows[0]
    }
    batch["pixel_values"] = torch.cat(pixel_values, dim=0)
    batch["image_grid_thw"] = torch.cat(grids, dim=0)
    return batch


def answer_positions(labels: Any) -> Any:
    """Sequence positions whose logits predict a label (position t predicts token t+1)."""
    import torch

    target = labels[:, 1:] != IGNORE_INDEX
    return torch.nonzero(target.any(dim=0)).flatten()


def answer_token_logprobs(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Per-token log-probabilities of the labelled tokens: (logprobs (B, K), mask (B, K)).

    Only the positions that predict an answer token go through the language-model head
    (``logits_to_keep``): with Qwen's 152k-token vocabulary, full logits for a batch would take
    gigabytes, the answer positions a few megabytes.
    """
    import torch

    labels = batch["labels"]
    keep = answer_positions(labels)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=keep.to(labels.device), use_cache=False).logits  # (B, K, V)
    targets = labels[:, keep + 1]
    mask = targets != IGNORE_INDEX
    logits = logits.float()
    # log p(token) = logit - logsumexp(logits): no second vocabulary-sized tensor as log_softmax would make
    picked = logits.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return picked * mask, mask


def to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) for k, v in batch.items()}
