"""The layering contracts (import-linter, in pyproject.toml) hold, and would catch a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.files import REPO

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT)], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_contracts_hold_and_a_lower_layer_importing_a_higher_one_breaks_them(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "optalloc", copy / "optalloc", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    clean = _lint(copy)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    problem = copy / "optalloc" / "allocation" / "problem.py"
    problem.write_text(problem.read_text() + "\nimport optalloc.studio.kpis  # a breach\n")
    broken = _lint(copy)
    assert broken.returncode != 0 and "BROKEN" in broken.stdout
    assert "optalloc.allocation.problem -> optalloc.studio.kpis" in broken.stdout
