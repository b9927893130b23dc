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


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_the_import_graph_has_no_cycle() -> None:
    """Every import counts, those inside functions too (grimp reads them all)."""
    import grimp

    graph = grimp.build_graph("optalloc")
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert import_cycles(edges) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # it would see one
