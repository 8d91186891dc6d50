"""The dermoscopy image-text encoder (inference side): towers, model, preprocessing, artifact loading.

    from models.encoder import load_encoder
    enc = load_encoder()                      # the shipped artifact (artifacts/encoder)
    enc.embed_images([img])                   # (N, D) L2-normalised
    enc.embed_texts(["melanoma on the back"]) # (N, D) in the same space
    enc.predict_proba([img])                  # (N, 7) temperature-scaled, CODES order

Training lives in ``training/encoder`` and is never imported from here.
"""

from models.encoder.artifact import encoder_dir, load_case_embeddings, load_encoder, read_encoder_manifest
from models.encoder.model import DermEncoder, EncoderConfig, create_encoder, softmax
from models.encoder.towers import ImageTower, TowerSpec, available_towers, create_tower, register_tower

__all__ = [
    "DermEncoder",
    "EncoderConfig",
    "ImageTower",
    "TowerSpec",
    "available_towers",
    "create_encoder",
    "create_tower",
    "encoder_dir",
    "load_case_embeddings",
    "load_encoder",
    "read_encoder_manifest",
    "register_tower",
    "softmax",
]
