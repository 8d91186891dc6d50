"""Models: the dermoscopy encoder and its towers, the segmenter and lesion features, Qwen2-VL loading and
scoring, the sentence and intent models, and the classifier backends with their one factory.

Stands on ``knowledge`` only; ``retrieval`` (search), ``training`` and ``agents`` stand on it.
"""
