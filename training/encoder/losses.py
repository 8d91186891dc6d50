"""Losses: class term (logit-adjusted cross-entropy), image-image supervised contrastive, image-text CLIP.

* Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): add
  ``tau * log(prior)`` to the logits during training only, so the learned scores are those of a
  class-balanced problem; nv's 67% no longer swamps df's 1%.
* Supervised contrastive (Khosla et al., NeurIPS 2020) on the image embeddings: same-diagnosis
  images attract, others repel; this is what similar-case precision@k measures.
* open_clip's ``ClipLoss`` between image embeddings and their metadata captions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def logit_adjusted_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor, tau: float,
                                 label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits + tau * log_prior, labels, label_smoothing=label_smoothing)


def supervised_contrastive(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean over anchors with at least one positive of -mean log p(positive | anchor)."""
    sim = embeddings @ embeddings.T / temperature
    n = len(labels)
    self_mask = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(1)
    has_pos = counts > 0
    if not has_pos.any():
        return embeddings.sum() * 0.0
    mean_log_prob = log_prob.masked_fill(~positives, 0.0).sum(1)[has_pos] / counts[has_pos]
    return -mean_log_prob.mean()


def clip_loss() -> torch.nn.Module:
    from open_clip.loss import ClipLoss

    return ClipLoss()


def image_side_loss(emb: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor,
                    cfg) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, class term, contrastive term) of one batch, as both encoder recipes train the image side."""
    ce = logit_adjusted_cross_entropy(logits, labels, log_prior, cfg.logit_adjust_tau, cfg.label_smoothing)
    sc = supervised_contrastive(emb, labels, cfg.supcon_temperature)
    return ce + cfg.supcon_weight * sc, ce, sc

