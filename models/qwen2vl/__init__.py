"""Qwen2-VL at inference: loading a base with a LoRA adapter (or merged weights), building
prompt + answer sequences, and scoring answers by their log-likelihood.

Shared by the classifier backend (``models.classifiers.qwen2vl``) and the native trainer
(``training.qwen2vl``), so the sequences the model is trained on and the ones it is scored on are
built by the same code. transformers and torch are imported only inside these modules.
"""
