"""`timm:<name>@<file>` towers: a GPU user's larger backbone, loaded from a local checkpoint (no hub here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from knowledge.images import open_image


@pytest.fixture(scope="module")
def local_checkpoint(tmp_path_factory):
    import timm

    net = timm.create_model("resnet10t", pretrained=False)
    path = tmp_path_factory.mktemp("timm") / "resnet10t.pth"
    torch.save(net.state_dict(), path)
    return net, path


def test_a_timm_tower_loads_its_local_weights_and_joins_the_encoder(local_checkpoint, dataset):
    from models.encoder.model import DermEncoder, EncoderConfig
    from models.encoder.towers import create_tower

    net, path = local_checkpoint
    tower = create_tower(f"timm:resnet10t@{path}")
    assert torch.equal(tower.net.conv1[0].weight, net.conv1[0].weight)  # the file's weights, not random ones
    assert tower.spec.feature_dim == net.num_features
    trained = {n for n, _ in tower.net.named_parameters()}
    assert trained == {n for n, _ in net.named_parameters() if not n.startswith("fc.")}  # all of it but the ImageNet head
    assert len(tower.top_parameters()) == len(trained)
    encoder = DermEncoder(EncoderConfig(tower=f"timm:resnet10t@{path}", tune_top=True, tune_stem=True), with_text=False)
    emb, logits = encoder.image_outputs([open_image(dataset.records[0].image_path)])
    assert emb.shape == (1, encoder.config.embed_dim) and logits.shape == (1, 7)
    assert np.isclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4).all()


def test_without_weights_offline_the_error_says_how_to_give_a_file(tmp_path):
    from models.encoder.towers import create_tower

    with pytest.raises(ValueError, match=r"timm:resnet10t@"):
        create_tower("timm:resnet10t")
    with pytest.raises(ValueError, match="not found"):
        create_tower(f"timm:resnet10t@{tmp_path / 'missing.pth'}")
    with pytest.raises(ValueError, match="unknown timm model"):
        create_tower("timm:no_such_model_anywhere")
