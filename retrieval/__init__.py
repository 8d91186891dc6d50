"""Indexes and search: the encoder used at inference, similar cases, the knowledge text index."""
