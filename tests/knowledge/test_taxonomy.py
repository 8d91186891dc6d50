"""The taxonomy is the one list of labels, with names in two languages and the malignancy flag."""

import ast
from pathlib import Path

import pytest

from knowledge.settings import REPO_ROOT
from knowledge.taxonomy import CLASSES, CODES, MALIGNANT_CODES, class_index, display_name, get_class

PACKAGES = ("knowledge", "retrieval", "training", "agents", "ui", "evals")


def test_seven_ham10000_classes_in_fixed_order():
    assert CODES == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    assert [class_index(c) for c in CODES] == list(range(7))


def test_malignant_or_premalignant_classes_are_akiec_bcc_mel():
    assert MALIGNANT_CODES == ("akiec", "bcc", "mel")


def test_every_class_has_english_and_chinese_names_and_a_description():
    for c in CLASSES:
        assert c.name_en and c.description
        assert any("\u4e00" <= ch <= "\u9fff" for ch in c.name_zh), c.code
    assert display_name("mel") == "Melanoma"
    assert display_name("mel", "zh") == "黑色素瘤"


def test_unknown_code_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown lesion class 'melanoma'"):
        get_class("melanoma")


def _label_lists(path: Path) -> list[int]:
    """Line numbers of list/tuple/set/dict literals naming three or more class codes."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        codes = {n.value for n in items if isinstance(n, ast.Constant) and n.value in CODES}
        if len(codes) >= 3:
            found.append(node.lineno)
    return found


def test_no_other_module_keeps_its_own_list_of_labels():
    offenders = []
    for pkg in PACKAGES:
        for path in (REPO_ROOT / pkg).rglob("*.py"):
            if path == REPO_ROOT / "knowledge" / "taxonomy.py":
                continue
            offenders += [f"{path.relative_to(REPO_ROOT)}:{line}" for line in _label_lists(path)]
    assert not offenders, f"label lists outside knowledge/taxonomy.py: {offenders}"
