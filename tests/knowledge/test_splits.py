"""The shipped split is lesion-disjoint, duplicate-aware, stratified and reproducible."""

from collections import Counter

import pytest

from knowledge.splits import SPLITS, SplitError, duplicate_groups, leaks, make_split, read_split, split_to_csv
from knowledge.taxonomy import CODES


def test_no_lesion_crosses_splits(dataset, split):
    by_lesion = {}
    for r in dataset:
        by_lesion.setdefault(r.lesion_id, set()).add(split[r.image_id])
    assert all(len(s) == 1 for s in by_lesion.values())
    assert leaks(dataset, split) == []


def test_near_duplicate_and_byte_identical_pairs_stay_together(dataset, split):
    assert len(dataset.near_duplicate_pairs) == 20
    for a, b in dataset.near_duplicate_pairs:
        assert split[a] == split[b], (a, b)
    assert split["ISIC_0024777"] == split["ISIC_0029938"]
    groups = duplicate_groups(dataset)
    assert len(set(groups.values())) < len(dataset.lesion_ids)  # pairs across lesion ids merged groups


def test_every_image_assigned_and_every_class_in_every_split(dataset, split):
    assert set(split) == {r.image_id for r in dataset}
    for name in SPLITS:
        present = Counter(dataset.get(i).dx for i, s in split.items() if s == name)
        assert set(present) == set(CODES), name


def test_fractions_near_70_10_20_per_class(dataset, split):
    for code in CODES:
        ids = [r.image_id for r in dataset if r.dx == code]
        share = Counter(split[i] for i in ids)
        for name, target in zip(SPLITS, (0.7, 0.1, 0.2)):
            assert abs(share[name] / len(ids) - target) < 0.04, (code, name, share)


def test_same_inputs_give_the_same_file(dataset, settings):
    again = make_split(dataset, seed=settings.split_seed, fractions=settings.split_fractions)
    assert split_to_csv(again) == settings.split_file.read_text()
    other = make_split(dataset, seed=settings.split_seed + 1)
    assert other != again and leaks(dataset, other) == []


def test_bad_split_files_are_rejected(tmp_path, dataset):
    bad = tmp_path / "bad.csv"
    bad.write_text("image_id,split\nISIC_0027419,holdout\n")
    with pytest.raises(SplitError, match="row 2: split 'holdout'"):
        read_split(bad, dataset)
    bad.write_text("image_id,split\nISIC_9999999,train\n")
    with pytest.raises(SplitError, match="ISIC_9999999 is not in the dataset"):
        read_split(bad, dataset)
    bad.write_text("id,fold\n")
    with pytest.raises(SplitError, match="needs columns image_id and split"):
        read_split(bad, dataset)
