"""Training: the dermoscopy encoder, the segmenter, Qwen2-VL LoRA, LLaMA-Factory export. Never imported by inference code."""
