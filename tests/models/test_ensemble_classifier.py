"""The default classifier (v5 ensemble): its member encoders, the lesion crop, metadata that can only raise the triage."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.classifiers import DEFAULT_BACKEND, get_classifier
from agents.risk import TriageCutoffs, triage
from knowledge.images import open_image
from knowledge.schema import Classifier
from knowledge.splits import records_in
from knowledge.taxonomy import CODES
from models.encoder.metadata import field_values


@pytest.fixture(scope="module")
def ensemble(resources):
    return resources.classifier


def test_the_default_backend_is_the_ensemble_and_shares_the_loaded_encoder(ensemble, resources):
    assert DEFAULT_BACKEND == "ensemble" and isinstance(ensemble, Classifier) and ensemble.name == "ensemble"
    assert ensemble.whole is resources.encoder  # one copy of the whole-image encoder in the process
    assert ensemble.lesion.config.lesion_margin is not None
    assert abs(sum(ensemble.head.weights) - 1) < 1e-9 and all(0 <= w <= 1 for w in ensemble.head.weights)


def test_its_probabilities_mix_every_member_and_are_calibrated_distributions(ensemble, dataset):
    img = open_image(dataset.records[3].image_path)
    pred = ensemble.classify(img)
    assert pred.backend == "ensemble" and sum(pred.probs.values()) == pytest.approx(1.0)
    assert pred.image_probs is None  # no metadata given
    logits = ensemble.member_logits([img])
    assert len(logits) == len(ensemble.head.members) == len(ensemble.head.weights) >= 2
    whole, lesion = logits[ensemble.head.members.index("encoder")], logits[ensemble.head.members.index("encoder_lesion")]
    assert not np.allclose(whole, lesion)  # the crop is a different view
    assert all(not np.allclose(a, b) for i, a in enumerate(logits) for b in logits[i + 1:])  # each member differs
    expected, _ = ensemble.head.probabilities(logits)
    assert [pred.probs[c] for c in CODES] == pytest.approx(expected[0].tolist(), abs=1e-6)


def test_metadata_moves_the_shown_probabilities_and_keeps_the_image_only_ones(ensemble, dataset):
    record = next(r for r in dataset.records if r.dx == "bkl" and r.localization == "face" and r.age and r.age >= 60)
    img = open_image(record.image_path)
    plain = ensemble.classify(img)
    fields = field_values(record.age, record.sex, record.localization)
    with_meta = ensemble.classify(img, fields)
    assert with_meta.image_probs == pytest.approx(plain.probs, abs=1e-6)
    assert with_meta.probs != pytest.approx(plain.probs, abs=1e-3)
    assert sum(with_meta.probs.values()) == pytest.approx(1.0)
    assert ensemble.classify(img, {}).image_probs is None  # empty metadata: the image-only prediction


def test_metadata_can_raise_the_triage_estimate_but_never_lower_it(ensemble, dataset, split):
    """Young people get lower melanoma odds from the prior; the rule still reads the image-only estimate."""
    cutoffs = TriageCutoffs.from_manifest_metrics(ensemble.triage)
    test = records_in(dataset, split, "test")
    mels = [r for r in test if r.dx == "mel"][:12]
    young = field_values(20, "female", "lower extremity")
    lowered = 0
    for r in mels:
        img = open_image(r.image_path)
        plain, meta = ensemble.classify(img), ensemble.classify(img, young)
        lowered += meta.probs["mel"] < plain.probs["mel"]
        t_plain, t_meta = triage(plain, cutoffs), triage(meta, cutoffs)
        assert t_meta.p_mel >= t_plain.p_mel - 1e-9
        assert t_meta.melanoma_not_excluded or not t_plain.melanoma_not_excluded
    assert lowered > 0  # the prior does lower the shown melanoma probability for a young person: the guard matters


def test_held_out_test_images_reach_a_balanced_accuracy_well_above_the_encoder_alones_floor(ensemble, dataset, split):
    test = records_in(dataset, split, "test")
    picks = [r for c in CODES for r in [x for x in test if x.dx == c][:8]]
    preds = ensemble.classify_batch([open_image(r.image_path) for r in picks])
    recall = {c: np.mean([p.label == r.dx for p, r in zip(preds, picks) if r.dx == c]) for c in CODES}
    assert np.mean(list(recall.values())) >= 0.4, recall



def test_the_shipped_head_is_the_linear_pool(ensemble):
    """The stacked head is opt-in (``train classifier --stacked``): on val it lost under corruptions."""
    assert not ensemble.head.stacked and ensemble.temperature == ensemble.head.image.temperature


def test_an_under_exposed_photo_is_lifted_to_the_exposure_floor_before_the_members_see_it(ensemble, dataset, split):
    """The shipped head carries the training photos' exposure floor; a photo at 30% exposure is classified much as
    the original is, and far closer than the same members and head without the floor; ordinary photos are as before."""
    floor = ensemble.head.input_range.exposure_floor
    assert floor is not None and 0.3 < floor.brightness < 0.8 and 0.01 < floor.contrast < 0.2
    test = records_in(dataset, split, "test")
    picks = [open_image(r.image_path) for c in CODES for r in [x for x in test if x.dx == c][:2]]
    picks = [img for img in picks if ensemble.head.prepare(img) is img]  # inside the training photos' range
    dark = [Image.fromarray((np.asarray(img, dtype=np.float64) * 0.3 + 0.5).astype(np.uint8)) for img in picks]
    clean_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(picks)])
    dark_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(dark)])
    unlifted = ensemble.head.probabilities(ensemble.member_logits(dark))[0]
    assert np.allclose(clean_p, ensemble.head.probabilities(ensemble.member_logits(picks))[0], atol=1e-6)
    tv = lambda a, b: 0.5 * np.abs(a - b).sum(axis=1).mean()  # noqa: E731
    assert tv(clean_p, dark_p) < 0.5 * tv(clean_p, unlifted), (tv(clean_p, dark_p), tv(clean_p, unlifted))


def test_a_heavily_compressed_photo_is_deblocked_before_the_members_see_it(ensemble, dataset, split):
    """The shipped head carries the training photos' blockiness ceiling; photos saved again at JPEG quality 10 are
    classified closer to the originals than the same members and head give without the deblocker."""
    import io

    deblocker = ensemble.head.input_range.deblocker
    assert deblocker is not None and 1.3 < deblocker.ceiling < 2.2
    test = records_in(dataset, split, "test")
    picks = [open_image(r.image_path) for c in CODES for r in [x for x in test if x.dx == c][:3]]

    def squeeze(img):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=10)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    squeezed = [squeeze(img) for img in picks]
    clean_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(picks)])
    fixed_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(squeezed)])
    raw = ensemble.head.probabilities(ensemble.member_logits([ensemble.head.input_range.exposure_floor.lift(im) for im in squeezed]))[0]
    tv = lambda a, b: 0.5 * np.abs(a - b).sum(axis=1).mean()  # noqa: E731
    assert tv(clean_p, fixed_p) < 0.8 * tv(clean_p, raw), (tv(clean_p, fixed_p), tv(clean_p, raw))



def test_a_noisy_photo_is_denoised_before_the_members_see_it(ensemble, dataset, split):
    """The shipped head carries a denoising gate above the noisiest training photo; with Gaussian noise of std 0.11
    and 0.15 (the robustness suite's severities 4 and 5) the true class gets more probability (lower NLL) and the
    probabilities sit nearer the clean photos' than the same members and head give without the denoiser; the same
    photos with std 0.03 are not touched."""
    from evals.corruptions import corrupt

    checks = ensemble.head.input_range
    assert checks.denoiser is not None and 0.05 <= checks.denoiser.ceiling < 0.1
    test = records_in(dataset, split, "test")
    records = [r for c in CODES for r in [x for x in test if x.dx == c][:3]]
    picks, y = [open_image(r.image_path) for r in records], np.array([CODES.index(r.dx) for r in records])
    assert all(checks.denoiser.apply(im) is im for im in (corrupt(img, "gaussian_noise", 1, seed=k) for k, img in enumerate(picks)))
    clean_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(picks)])
    tv = lambda a, b: 0.5 * np.abs(a - b).sum(axis=1).mean()  # noqa: E731
    nll = lambda p: float(-np.log(p[np.arange(len(y)), y]).mean())  # noqa: E731
    for severity in (4, 5):
        noisy = [corrupt(img, "gaussian_noise", severity, seed=k) for k, img in enumerate(picks)]
        fixed_p = np.array([[p.probs[c] for c in CODES] for p in ensemble.classify_batch(noisy)])
        raw = ensemble.head.probabilities(ensemble.member_logits([checks.deblocker.apply(checks.exposure_floor.lift(im))
                                                                  for im in noisy]))[0]
        assert nll(fixed_p) < 0.95 * nll(raw) and tv(clean_p, fixed_p) < tv(clean_p, raw), (severity, nll(fixed_p), nll(raw))

def test_the_head_round_trips_its_input_checks_and_an_older_head_loads_without_them():
    from knowledge.input_range import DEFAULT_INPUT_RANGE, INPUT_RANGE_KEYS, HairRemover
    from models.encoder.ensemble import EnsembleHead, load_ensemble_head

    head, _ = load_ensemble_head()
    raw = head.to_dict()
    assert head.input_range.keys == DEFAULT_INPUT_RANGE and set(DEFAULT_INPUT_RANGE) <= set(raw)  # the shipped defaults
    assert EnsembleHead.from_dict(raw).to_dict() == raw
    with_hair = {**raw, "hair": HairRemover(0.0123).to_dict()}
    assert EnsembleHead.from_dict(with_hair).input_range.hair.ceiling == 0.0123
    older = {k: v for k, v in raw.items() if k not in INPUT_RANGE_KEYS}
    loaded = EnsembleHead.from_dict(older)
    assert loaded.input_range.keys == () and loaded.input_range.to_dict() == {}
    img = Image.new("RGB", (40, 30), (20, 10, 5))
    assert loaded.prepare(img) is img  # a head fitted before the checks passes every photo through
