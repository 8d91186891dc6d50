"""Training the lesion segmenter (`dermagraph train segmenter`); inference lives in ``retrieval.features``."""
