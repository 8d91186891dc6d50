"""Training the lesion segmenter (`dermagraph train segmenter`); inference lives in ``models.features``."""
