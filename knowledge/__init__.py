"""Base layer: taxonomy, HAM10000 access, splits, text corpus, settings. Imports nothing of ours."""
