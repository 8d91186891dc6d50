"""Imports flow one way: knowledge -> models -> retrieval/training -> agents -> evals -> ui; inference never imports training."""

import subprocess
import sys
from pathlib import Path

from knowledge.settings import REPO_ROOT


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout
