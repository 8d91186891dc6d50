"""The encoder: towers by name, preprocessing for any image, captions, and the shipped artifact's outputs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from knowledge.artifacts import ArtifactError
from knowledge.images import open_image
from knowledge.taxonomy import CODES
from models.encoder import available_towers, create_tower, load_encoder
from models.encoder.captions import caption, class_descriptions, class_prompts
from models.encoder.preprocess import fit_to_frame, to_batch


def test_towers_are_registered_by_name_and_unknown_names_list_the_choices():
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "small_cnn"} <= set(available_towers())
    with pytest.raises(ValueError, match="available: .*efficientnet_lite0"):
        create_tower("resnet9000")


def test_lite0_trunk_then_top_equals_the_whole_tower(dataset):
    tower = create_tower("efficientnet_lite0", top_blocks=5).eval()
    x = to_batch([open_image(r.image_path) for r in dataset.records[:2]], tower.spec)
    with torch.inference_mode():
        whole = tower(x)
        split = tower.top(tower.trunk(x))
    assert whole.shape == (2, tower.spec.feature_dim) == (2, 1280)
    assert torch.allclose(whole, split)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_fine_tuning_the_whole_tower_means_every_block_whatever_its_depth(name):
    """The full recipe names 16 blocks (Lite0's count) and the stem: a deeper tower (Lite2, 22 blocks) must still be
    trained and saved whole, or its artifact loads with untrained first blocks (an artifact that gave chance-level
    logits before this was fixed)."""
    from models.encoder.model import DermEncoder, EncoderConfig

    tower = create_tower(name, top_blocks=16, include_stem=True, pretrained=False)
    x = torch.rand(1, 3, 144, 192)
    assert torch.equal(tower.trunk(x), x)  # nothing frozen below the fine-tuned part
    used = {id(p) for n, p in tower.named_parameters() if not n.startswith("net._fc.")}  # the ImageNet classifier is unused
    assert {id(p) for p in tower.top_parameters()} == used
    model = DermEncoder(EncoderConfig(tower=name, top_blocks=16, tune_top=True, tune_stem=True, image_size=(192, 144)),
                        with_text=False, pretrained=False)
    saved = set(model.trainable_state_names())
    assert {"tower.net._conv_stem.weight", "tower.net._bn0.running_mean", "tower.net._blocks.0._bn1.running_var"} <= saved


def test_a_partly_frozen_tower_keeps_its_trunk_as_the_package_ships_it():
    """The lite2_partial recipe freezes Lite2's stem and first blocks: training mode must not move their
    BatchNorm statistics (the artifact does not store them; inference loads the package's), while the
    fine-tuned blocks do learn theirs and are stored."""
    from models.encoder.model import DermEncoder
    from training.encoder.config import recipe_config

    cfg = recipe_config("lite2_partial").model
    model = DermEncoder(cfg, with_text=False, pretrained=False)
    tower = model.tower
    assert 0 < tower.split < len(tower.net._blocks)
    frozen_bn, tuned_bn = tower.net._blocks[tower.split - 1]._bn1, tower.net._blocks[tower.split]._bn1
    before = frozen_bn.running_mean.clone(), tower.net._bn0.running_mean.clone(), tuned_bn.running_mean.clone()
    model.train()
    model.heads(tower(torch.rand(4, 3, 144, 192) * 2 - 1))
    assert torch.equal(frozen_bn.running_mean, before[0]) and torch.equal(tower.net._bn0.running_mean, before[1])
    assert not torch.equal(tuned_bn.running_mean, before[2])
    assert tower.training and tower.net._blocks[tower.split].training  # the model is still in training mode
    saved = set(model.trainable_state_names())
    assert f"tower.net._blocks.{tower.split}._bn1.running_mean" in saved
    assert not any(n.startswith(("tower.net._conv_stem", "tower.net._bn0", "tower.net._blocks.0.")) for n in saved)


def test_an_adapted_trunk_moves_and_stores_its_batchnorm_statistics_but_not_its_weights():
    """lite2_robust_bn: the frozen stem and first blocks keep ImageNet weights (no gradient, not stored) while
    their BatchNorm statistics follow the training images in training mode and are stored with the artifact."""
    from models.encoder.model import DermEncoder
    from training.encoder.config import recipe_config
    from training.encoder.finetune import param_groups

    cfg = recipe_config("lite2_robust_bn").model
    assert cfg.adapt_trunk_bn and "adapt_trunk_bn" not in recipe_config("lite2_robust").model.to_dict()
    model = DermEncoder(cfg, with_text=False, pretrained=False)
    tower = model.tower
    param_groups(model, 1e-3, 1e-4)
    frozen_bn = tower.net._blocks[tower.split - 1]._bn1
    assert not frozen_bn.weight.requires_grad and not tower.net._conv_stem.weight.requires_grad
    before = frozen_bn.running_mean.clone(), tower.net._bn0.running_var.clone()
    model.train()
    model.heads(tower(torch.rand(4, 3, 144, 192) * 2 - 1))
    assert not torch.equal(frozen_bn.running_mean, before[0]) and not torch.equal(tower.net._bn0.running_var, before[1])
    saved = set(model.trainable_state_names())
    assert {"tower.net._bn0.running_var", f"tower.net._blocks.{tower.split - 1}._bn1.running_mean"} <= saved
    assert not any(n.startswith("tower.net._conv_stem") or n == "tower.net._bn0.weight" for n in saved)
    model.eval()  # inference uses the stored statistics, not the batch's
    frozen = frozen_bn.running_mean.clone()
    model.heads(tower(torch.rand(2, 3, 144, 192)))
    assert torch.equal(frozen_bn.running_mean, frozen)


@pytest.mark.parametrize("size", [(200, 150), (150, 200), (33, 40), (3000, 2000), (640, 640)])
def test_any_image_becomes_the_towers_landscape_frame(size):
    img = Image.new("RGB", size, (120, 80, 60))
    framed = fit_to_frame(img, (224, 168))
    assert framed.size == (224, 168)


def test_portrait_images_are_turned_rather_than_cropped_to_a_sliver():
    img = Image.new("RGB", (150, 200), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 150, 20))  # a white band along the top edge
    framed = np.asarray(fit_to_frame(img, (200, 150)))
    assert framed[:, :10].mean() > 200 or framed[:, -10:].mean() > 200  # the band now runs down one side


def test_captions_describe_the_image_metadata_and_its_class(dataset):
    rng = random.Random(0)
    record = next(r for r in dataset if r.dx == "mel" and r.localization == "back" and r.age)
    texts = [caption(record.caption_fields(), rng) for _ in range(40)]
    assert all("melanoma" in t for t in texts)
    assert any("on the back" in t for t in texts)
    assert any("histopathology" in t or "follow-up" in t or "consensus" in t or "confocal" in t for t in texts)
    assert set(class_descriptions()) == set(CODES)
    assert class_prompts("vasc")[0] == "dermoscopy of vascular lesion"


def test_shipped_encoder_embeds_images_and_texts_into_one_normalised_space(encoder, dataset):
    images = [open_image(r.image_path) for r in dataset.records[:3]]
    img_emb = encoder.embed_images(images)
    txt_emb = encoder.embed_texts(["dermoscopy of melanoma", "a melanocytic nevus on the back"])
    assert img_emb.shape == (3, encoder.config.embed_dim) and txt_emb.shape == (2, encoder.config.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(img_emb, axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(txt_emb, axis=1), 1, atol=1e-4)
    probs = encoder.predict_proba(images)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert encoder.temperature > 0


def test_loading_from_an_empty_folder_says_how_to_build_the_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="dermagraph train encoder"):
        load_encoder(tmp_path)
