"""`dermagraph train encoder`: the whole recipe, top to bottom.

1. Data: the lesion-disjoint train and val splits (test is never touched here).
2. Cache the frozen ImageNet trunk's activations for every (image, view) once (``features.py``).
3. Train the heads (class head, image projection), the text tower's LoRA and projection, and,
   when ``model.tune_top``, the tower's last blocks, with
   logit-adjusted cross-entropy + supervised contrastive (image-image) + CLIP (image-caption).
   A checkpoint is written every epoch under ``var/encoder/runs/<config hash>/``; rerunning the
   same config resumes.
4. Fit the softmax temperature on val; measure val metrics.
5. Embed every train+val image for the similar-case index and write the artifact (fp16 weights,
   case embeddings, manifest) atomically to ``artifacts/encoder``.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from knowledge.artifacts import Manifest, atomic_replace_dir, atomic_write_text, config_hash, split_fingerprint, staging_dir, write_manifest
from knowledge.cases import Case
from knowledge.ham10000 import HamDataset, load_dataset
from knowledge.metrics import log_class_prior
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from knowledge.calibration import fit_temperature_and_prior_shift, policy_triage_thresholds, softmax
from knowledge.taxonomy import CODES
from models.encoder.artifact import save_case_embeddings, save_weights
from models.encoder.captions import caption
from models.encoder.lesion_view import Box, boxes_for_records
from models.encoder.model import DermEncoder, create_encoder
from training.common import read_checkpoint, set_lr, warmup_cosine, write_checkpoint
from training.encoder.calibrate import val_metrics
from training.encoder.config import FinetuneConfig, TrainConfig, recipe_config
from training.encoder.finetune import finetune_image_side, predict_records
from training.encoder.features import cached_pooled_features, trunk_activations
from training.encoder.losses import clip_loss, image_side_loss


@dataclass
class TrainResult:
    artifact_dir: Path
    metrics: dict
    history: list[dict]
    seconds: float


@dataclass
class ViewSet:
    """Cached tower outputs for a list of records, one entry per view (trunk activations or pooled features)."""

    records: list[Case]
    labels: torch.Tensor
    views: list[torch.Tensor]


def per_class_subset(records: Sequence[Case], per_class: int | None, seed: int = 0) -> list[Case]:
    """At most ``per_class`` records of each class (seeded), in image-id order; ``None``: all of them."""
    if per_class is None:
        return list(records)
    rng = random.Random(seed)
    chosen: list[Case] = []
    for code in CODES:
        pool = [r for r in records if r.dx == code]
        chosen += rng.sample(pool, min(per_class, len(pool)))
    return sorted(chosen, key=lambda r: r.image_id)


def _cache_views(model: DermEncoder, records: list[Case], views: Sequence[str], cfg: TrainConfig,
                 cache_dir: Path, progress: bool) -> ViewSet:
    tower = model.tower
    out = []
    for view in views:
        if cfg.model.tune_top:  # fp16 trunk activations; the trainable top runs every step
            acts = trunk_activations(tower, cfg.model.tower, records, view, cache_dir, seed=cfg.seed, progress=progress)
            out.append(torch.from_numpy(np.array(acts)))  # into memory: batches gather random rows
        else:  # frozen top: pooled features, computed once
            feats = cached_pooled_features(tower, cfg.model.tower, records, view, cache_dir, seed=cfg.seed, progress=progress)
            out.append(torch.from_numpy(feats))
    labels = torch.tensor([CODES.index(r.dx) for r in records])
    return ViewSet(records, labels, out)


def _features(model: DermEncoder, cached: torch.Tensor, cfg: TrainConfig, train: bool) -> torch.Tensor:
    """Tower features for a batch of cached views (running the trainable top if there is one)."""
    if not cfg.model.tune_top:
        x = cached.float()
        return F.dropout(x, cfg.feature_noise) if train and cfg.feature_noise else x
    h = cached.float()
    if train:  # cheap feature-map augmentation: mirror the activations
        if random.random() < 0.5:
            h = torch.flip(h, dims=[3])
        if random.random() < 0.5:
            h = torch.flip(h, dims=[2])
    return model.tower.top(h)


def _param_groups(model: DermEncoder, cfg: TrainConfig, text: bool) -> list[dict]:
    """Optimiser groups for one phase; every other parameter is frozen for that phase."""
    if text:
        assert model.text is not None
        names = set(model.text.trainable_names())
        groups = [{"params": [p for n, p in model.text.named_parameters() if n in names] + [model.logit_scale], "lr": cfg.text_lr}]
    else:
        heads = [p for n, p in model.named_parameters() if n.split(".")[0] in ("neck", "image_proj", "class_head")]
        groups = [{"params": heads, "lr": cfg.lr}]
        if cfg.model.tune_top:
            groups.append({"params": model.tower.top_parameters(), "lr": cfg.top_lr})
    for p in model.parameters():
        p.requires_grad = False
    for g in groups:
        for p in g["params"]:
            p.requires_grad = True
    return groups


def _set_train_mode(model: DermEncoder, cfg: TrainConfig) -> None:
    model.train()
    # BatchNorm statistics stay those of ImageNet: batches of one dataset would skew them.
    for m in model.tower.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


@torch.no_grad()
def predict_views(model: DermEncoder, viewset: ViewSet, cfg: TrainConfig, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, logits) averaged over the cached views, as inference averages its TTA views."""
    model.eval()
    embs, logits = [], []
    for start in range(0, len(viewset.records), batch_size):
        e_sum, z_sum = 0, 0
        for view in viewset.views:
            e, z = model.heads(_features(model, view[start : start + batch_size], cfg, train=False))
            e_sum, z_sum = e_sum + e, z_sum + z
        embs.append(F.normalize(e_sum, dim=-1))
        logits.append(z_sum / len(viewset.views))
    return torch.cat(embs).numpy(), torch.cat(logits).numpy()


def _resume(path: Path, model: DermEncoder, log: Callable[[str], None]) -> dict:
    """Progress saved at ``path`` by a run of the same config, its trained tensors (``model``) restored; empty
    state when there is none. A full-recipe run stopped mid image side has no ``model`` yet but weights, EMA,
    optimiser and a position in the epoch, which ``finetune_image_side`` restores."""
    ckpt = read_checkpoint(path)
    if ckpt is None:
        return {}
    if "model" in ckpt:
        model.load_state_dict(ckpt["model"], strict=False)
    step = f", step {ckpt['step_in_epoch']}" if "step_in_epoch" in ckpt else ""
    log(f"resuming from {path} (image epoch {ckpt.get('epoch', 0)}{step}, text step {ckpt.get('text_step', 0)})")
    return ckpt


def _save_checkpoint(path: Path, model: DermEncoder, state: dict) -> None:
    """``state`` with the trainable tensors (``model``), written atomically."""
    trainable = set(model.trainable_state_names())
    state["model"] = {k: v for k, v in model.state_dict().items() if k in trainable}
    write_checkpoint(path, state)


def train_image_side(model: DermEncoder, cfg: TrainConfig, train_set: ViewSet, val_set: ViewSet, history: list[dict],
                     state: dict, ckpt_path: Path, progress: bool) -> None:
    """Epochs over the cached views: the neck, class head, image projection (and the tower top if tuned)."""
    groups = _param_groups(model, cfg, text=False)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    if "image_optimizer" in state:
        optimizer.load_state_dict(state["image_optimizer"])
    base_lrs = [g["lr"] for g in groups]
    n_views = len(train_set.views)
    n_items = len(train_set.records) * n_views
    steps_per_epoch = max(1, n_items // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    log_prior = torch.from_numpy(log_class_prior(train_set.labels.numpy(), len(CODES))).float()
    start_epoch = state.get("epoch", 0)
    bar = tqdm(total=total, initial=start_epoch * steps_per_epoch, desc="image side", unit="step", disable=not progress)
    for epoch in range(start_epoch, cfg.epochs):
        _set_train_mode(model, cfg)
        order = torch.randperm(n_items, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        sums = {"ce": 0.0, "supcon": 0.0}
        for step in range(steps_per_epoch):
            set_lr(optimizer, base_lrs, warmup_cosine(epoch * steps_per_epoch + step, total, cfg.warmup_steps))
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            view_of, item = idx % n_views, idx // n_views
            cached = torch.stack([train_set.views[v][i] for v, i in zip(view_of.tolist(), item.tolist())])
            labels = train_set.labels[item]
            emb, logits = model.heads(_features(model, cached, cfg, train=True))
            loss, ce, sc = image_side_loss(emb, logits, labels, log_prior, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums["ce"] += ce.item()
            sums["supcon"] += sc.item()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, ce=f"{ce.item():.3f}")
        _, val_logits = predict_views(model, val_set, cfg)
        vm = val_metrics(val_logits, val_set.labels.numpy())
        history.append({"phase": "image", "epoch": epoch + 1, "ce": sums["ce"] / steps_per_epoch,
                        "supcon": sums["supcon"] / steps_per_epoch, "val_balanced_accuracy": vm["balanced_accuracy"],
                        "val_accuracy": vm["accuracy"]})
        state.update(epoch=epoch + 1, history=history, image_optimizer=optimizer.state_dict())
        _save_checkpoint(ckpt_path, model, state)
    bar.close()


def train_text_side(model: DermEncoder, cfg: TrainConfig | FinetuneConfig, train_set: ViewSet, history: list[dict],
                    state: dict, ckpt_path: Path, progress: bool, emb_views: list[np.ndarray] | None = None) -> None:
    """CLIP loss between metadata captions and the locked image embeddings (Zhai et al., LiT, CVPR 2022).

    ``emb_views``: the training images' embeddings, one array per view (default: from ``train_set``'s cached views).
    """
    assert model.text is not None
    if emb_views is None:
        emb_views = [predict_views(model, ViewSet(train_set.records, train_set.labels, [v]), cfg)[0] for v in train_set.views]
    groups = _param_groups(model, cfg, text=True)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    if "text_optimizer" in state:
        optimizer.load_state_dict(state["text_optimizer"])
    base_lrs = [g["lr"] for g in groups]
    clip = clip_loss()
    # Rare classes are drawn more often (weights ~ 1/sqrt(count)), so their captions are learnt too.
    counts = torch.bincount(train_set.labels, minlength=len(CODES)).float()
    weights = counts[train_set.labels].rsqrt()
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    caption_rng = random.Random(cfg.seed + state.get("text_step", 0))
    start = state.get("text_step", 0)
    losses: list[float] = []
    log_every = max(1, min(25, cfg.text_steps // 3))  # a history entry and a checkpoint
    model.text.train()
    bar = tqdm(total=cfg.text_steps, initial=start, desc="text side", unit="step", disable=not progress)
    for step in range(start, cfg.text_steps):
        set_lr(optimizer, base_lrs, warmup_cosine(step, cfg.text_steps, cfg.warmup_steps))
        item = torch.multinomial(weights, min(cfg.text_batch, len(weights)), replacement=False, generator=gen).tolist()
        view = int(torch.randint(len(emb_views), (1,), generator=gen))
        img = torch.from_numpy(emb_views[view][item])
        texts = [caption(train_set.records[i].caption_fields(), caption_rng) for i in item]
        txt = model.encode_text_tokens(model.text.tokenize(texts))
        loss = clip(img, txt, model.logit_scale.exp().clamp(max=100))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(clip=f"{loss.item():.3f}")
        if (step + 1) % log_every == 0 or step + 1 == cfg.text_steps:
            history.append({"phase": "text", "step": step + 1, "clip": float(np.mean(losses))})
            losses = []
            state.update(text_step=step + 1, history=history, text_optimizer=optimizer.state_dict())
            _save_checkpoint(ckpt_path, model, state)
    bar.close()
    model.eval()


def cached_lesion_boxes(records: Sequence[Case], work_dir: Path, progress: bool) -> dict[str, Box]:
    """Lesion boxes from the shipped segmenter, cached under ``work_dir`` per segmenter artifact."""
    from knowledge.artifacts import read_manifest
    from models.features.segmenter import default_artifact_dir

    seg = read_manifest(default_artifact_dir())
    path = Path(work_dir) / f"lesion_boxes_{config_hash({'created': seg.created, 'config': seg.config})}.json"
    cached = json.loads(path.read_text()) if path.is_file() else {}
    missing = [r for r in records if r.image_id not in cached]
    if missing:
        cached.update(boxes_for_records(missing, progress=progress))
        atomic_write_text(path, json.dumps(cached))
    return {r.image_id: tuple(cached[r.image_id]) for r in records}


def run_dir(cfg: TrainConfig | FinetuneConfig, work_dir: Path | None = None) -> Path:
    work_dir = Path(work_dir) if work_dir is not None else get_settings().var_dir / "encoder"
    return work_dir / "runs" / config_hash(cfg.manifest_config())


def train_encoder(
    cfg: TrainConfig | FinetuneConfig | None = None,
    artifact_dir: Path | None = None,
    dataset: HamDataset | None = None,
    split_file: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    work_dir: Path | None = None,
    device: str = "cpu",
    case_embeddings: bool = True,
) -> TrainResult:
    """Train with ``cfg``; the trunk cache and checkpoints go under ``work_dir`` (default ``var/encoder``).

    ``case_embeddings=False`` leaves the train+val embeddings out of the artifact: an ensemble member is a
    classifier only (the similar-case index reads the main encoder's), and they cost ~4 MB in git."""
    cfg = cfg or TrainConfig()
    started = time.perf_counter()
    settings = get_settings()
    artifact_dir = Path(artifact_dir) if artifact_dir is not None else settings.artifacts_dir / "encoder"
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    # 1. Data ------------------------------------------------------------------------------------
    dataset = dataset or load_dataset()
    assignment = load_split(split_file, dataset)
    train_records = per_class_subset(records_in(dataset, assignment, "train"), cfg.max_train_per_class, cfg.seed)
    val_records = per_class_subset(records_in(dataset, assignment, "val"), cfg.max_train_per_class, cfg.seed)
    log(f"train {len(train_records):,} images, val {len(val_records):,} images")
    missing = [c for c in ("mel",) if not any(r.dx == c for r in val_records)]
    if missing or not train_records:
        # Checked before hours of training: the triage cut-offs are chosen on val melanomas at the end.
        raise ValueError(f"the val split has no {', '.join(missing) or 'images'} (train {len(train_records)}, val "
                         f"{len(val_records)}): the triage cut-offs are chosen on val melanomas; use a split file whose val "
                         "holds some")

    model = create_encoder(cfg.model)
    work_dir = Path(work_dir) if work_dir is not None else settings.var_dir / "encoder"
    ckpt_path = run_dir(cfg, work_dir) / "checkpoint.pt"
    y_train = np.array([CODES.index(r.dx) for r in train_records])
    y_val = np.array([CODES.index(r.dx) for r in val_records])
    boxes = None
    if isinstance(cfg, FinetuneConfig):
        # 2-3a. Whole network on freshly augmented images (finetune.py) --------------------------
        if cfg.model.lesion_margin is not None:  # the lesion-centred view: crop boxes from the shipped segmenter
            boxes = cached_lesion_boxes(train_records + val_records, work_dir, progress)
        state = _resume(ckpt_path, model, log)
        history: list[dict] = state.setdefault("history", [])
        if state.get("epoch", 0) < cfg.epochs:
            finetune_image_side(model, cfg, train_records, val_records, state, ckpt_path, progress, log, device, boxes)
            _save_checkpoint(ckpt_path, model, state)  # the EMA weights: a resumed run starts the text side from here
        model.to("cpu")
        # The train embeddings feed the text side, the case index and val P@10; a member with neither skips the pass
        # (~6 min on the 2 cores) and reports no P@10.
        needs_train_emb = case_embeddings or (model.text is not None and cfg.text_steps > 0)
        train_emb = (predict_records(model, train_records, progress=progress, desc="train embeddings", boxes=boxes)[0]
                     if needs_train_emb else None)
        text_views = [train_emb]
        text_set = ViewSet(train_records, torch.as_tensor(y_train), [])
    else:
        # 2. Cached trunk activations -----------------------------------------------------------
        cache_dir = work_dir / "cache"
        train_set = _cache_views(model, train_records, cfg.train_views, cfg, cache_dir, progress)
        val_set = _cache_views(model, val_records, cfg.val_views, cfg, cache_dir, progress)
        # 3a. Image side: class head + embedding (logit-adjusted cross-entropy + supervised contrastive) --
        state = _resume(ckpt_path, model, log)
        history = state.get("history", [])
        if state.get("epoch", 0) < cfg.epochs:
            train_image_side(model, cfg, train_set, val_set, history, state, ckpt_path, progress)
        train_emb, _ = predict_views(model, ViewSet(train_records, train_set.labels, train_set.views[:1]), cfg)
        text_views = None
        text_set = train_set

    # 3b. Text side, LiT-style: the image embeddings are locked; LoRA + projection learn to meet them --
    if model.text is not None and cfg.text_steps and state.get("text_step", 0) < cfg.text_steps:
        train_text_side(model, cfg, text_set, history, state, ckpt_path, progress, emb_views=text_views)

    # 4. Calibrate on val (temperature and prior shift) and measure ------------------------------
    if isinstance(cfg, FinetuneConfig):
        val_emb, val_logits = predict_records(model, val_records, boxes=boxes)
    else:
        val_emb, val_logits = predict_views(model, val_set, cfg)
    log_prior = log_class_prior(y_train, len(CODES))
    temperature, prior_shift = fit_temperature_and_prior_shift(val_logits, y_val, log_prior)
    class_bias = prior_shift * log_prior
    metrics = {
        "temperature": temperature,
        "class_bias": dict(zip(CODES, class_bias.round(6).tolist())),
        "val": val_metrics(val_logits, y_val, temperature, class_bias, val_emb, train_emb, y_train),
        "val_balanced_decision": val_metrics(val_logits, y_val, temperature),  # without the prior shift
        "train_seconds": round(time.perf_counter() - started, 1),
        "n_train": len(train_records),
        "n_val": len(val_records),
        "history": history,
    }
    # The triage rule's melanoma / malignant cut-offs at the policy's val sensitivity (agents.risk reads them).
    val_probs = softmax(val_logits / temperature + class_bias)
    metrics["triage"] = policy_triage_thresholds(val_probs, y_val)
    val = metrics["val"]
    log(f"val: balanced accuracy {val['balanced_accuracy']:.3f}, accuracy {val['accuracy']:.3f}, P@10 {val.get('p_at_10', float('nan')):.3f}, "
        f"temperature {temperature:.2f}, prior shift {prior_shift:.2f}")

    # 5. Case embeddings (train+val, the similar-case index) and the artifact --------------------
    model.temperature, model.class_bias = temperature, class_bias
    case_records = train_records + val_records if case_embeddings else []
    case_emb = np.concatenate([train_emb, val_emb]) if case_embeddings else np.zeros((0, val_emb.shape[1]), np.float32)
    write_encoder_artifact(model, cfg, artifact_dir, dataset, assignment, case_records, case_emb, metrics)
    return TrainResult(artifact_dir, metrics, history, time.perf_counter() - started)


def write_encoder_artifact(model: DermEncoder, cfg: TrainConfig, artifact_dir: Path, dataset: HamDataset,
                           assignment: dict[str, str], case_records: list[Case], case_emb: np.ndarray,
                           metrics: dict) -> Path:
    """Write weights, case embeddings (none when ``case_records`` is empty) and manifest into a fresh folder,
    then swap it in."""
    staging = staging_dir(artifact_dir)
    save_weights(model, staging)
    if case_records:
        save_case_embeddings(staging, [r.image_id for r in case_records], case_emb)
    manifest = Manifest(name="encoder", kind="dual-encoder", data_fingerprint=dataset.fingerprint(),
                        split_fingerprint=split_fingerprint(assignment), config=cfg.manifest_config(), metrics=metrics,
                        notes="fp16 weights of the trained tensors; frozen tower and MiniLM come from their packages")
    write_manifest(staging, manifest)
    return atomic_replace_dir(staging, artifact_dir)


def train_default_encoder(artifact_dir: Path | None = None, tower: str | None = None, epochs: int | None = None,
                          split_file: Path | None = None, restart: bool = False, progress: bool = True,
                          log: Callable[[str], None] = print, recipe: str | None = None, device: str = "cpu",
                          text_steps: int | None = None, case_embeddings: bool = True) -> TrainResult:
    """A named recipe (default: the shipped artifact's), optionally with another tower or epoch count.

    What the CLI and `dermagraph build` run. ``device`` ("cpu", "cuda", "cuda:1") applies to the full recipe.
    """
    from dataclasses import replace

    from models.encoder.towers import available_towers, is_tower_name

    cfg = recipe_config(recipe)
    if tower is not None:
        if not is_tower_name(tower):
            raise ValueError(f"unknown image tower {tower!r}; available: {', '.join(available_towers())} or timm:<name>[@weights]")
        if tower.startswith("timm:") and not isinstance(cfg, FinetuneConfig):
            raise ValueError("a timm tower is fine-tuned whole: use it with --recipe full")
        # A timm model keeps the input size it was pretrained at (a ViT's patch grid is fixed).
        cfg = cfg.with_model(tower=tower, image_size=None) if tower.startswith("timm:") else cfg.with_model(tower=tower)
    if epochs is not None:
        if epochs < 1:
            raise ValueError("--epochs must be at least 1")
        cfg = replace(cfg, epochs=epochs)
    if text_steps is not None:
        if text_steps < 0:
            raise ValueError("--text-steps must be 0 or more")
        cfg = replace(cfg, text_steps=text_steps)
    if device != "cpu":
        if not isinstance(cfg, FinetuneConfig):
            raise ValueError("--device applies to the full recipe (--recipe full); the fast recipe runs on the CPU")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA device is visible to torch here")
    if restart:
        shutil.rmtree(run_dir(cfg), ignore_errors=True)
    return train_encoder(cfg, artifact_dir=artifact_dir, split_file=split_file, progress=progress, log=log, device=device,
                         case_embeddings=case_embeddings)


def encoder_staleness(artifact_dir: Path | None = None, dataset: HamDataset | None = None) -> list[str]:
    """Why the encoder artifact differs from what the default config would build now (empty: up to date)."""
    from knowledge.artifacts import staleness

    dataset = dataset or load_dataset()
    folder = Path(artifact_dir) if artifact_dir is not None else get_settings().artifacts_dir / "encoder"
    split_fp = split_fingerprint(load_split(dataset=dataset))
    return staleness(folder, recipe_config().manifest_config(), dataset.fingerprint(), split_fp)


def member_staleness(name: str, recipe: str, dataset: HamDataset | None = None) -> list[str]:
    """Why ``artifacts/<name>`` (an ensemble member) differs from what ``recipe`` would build now (empty: up to date)."""
    from knowledge.artifacts import staleness

    dataset = dataset or load_dataset()
    folder = get_settings().artifacts_dir / name
    split_fp = split_fingerprint(load_split(dataset=dataset))
    return staleness(folder, recipe_config(recipe).manifest_config(), dataset.fingerprint(), split_fp)


def train_member(name: str, recipe: str) -> TrainResult:
    """For ``dermagraph build``: one member of the classifier ensemble (hours on 2 cores), without case embeddings."""
    return train_default_encoder(artifact_dir=get_settings().artifacts_dir / name, recipe=recipe, case_embeddings=False)

