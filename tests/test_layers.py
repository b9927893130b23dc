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


# --- General stages name no dataset's columns (issue #12) ------------------------------------
#: The general stages: what runs the same for every domain. domains/ and the cohort loaders
#: (optalloc/cohort: one module per format) are where a dataset's columns belong.
GENERAL_STAGES = (
    "segments",
    "risk",
    "estimates.py",
    "estimates_io.py",
    "allocation",
    "scenario",
    "monitoring",
    "report",
    "studio",
    "app",
    "cli",
    "pipeline.py",
)
#: Names every domain shares, which the general stages may read.
SHARED_NAMES = {
    "patient_id",  # the pseudonym every loader writes and every stage keys on
    "readmitted_30d",  # the observed outcome every domain maps its own label to (domains.base.OUTCOME)
}
#: A name that equals a column only by coincidence, by module, each with why.
COINCIDENCES = {
    ("optalloc/allocation/result.py", "diagnosis"),  # the result's diagnosis of an infeasible problem
    ("optalloc/scenario/model.py", "units_per_visit"),  # [quantities] every scenario states, any domain
    ("optalloc/scenario/model.py", "distance_km"),  # [quantities] every scenario states, any domain
    ("optalloc/risk/charlson.py", "charlson"),  # the published index this module computes from ICD codes
}


def declared_names() -> set[str]:
    """Every column a registered domain's declaration names: columns, identifiers, risk and
    segmentation features, profile columns and group columns."""
    from optalloc.domains import DOMAINS

    names: set[str] = set()
    for domain in DOMAINS.values():
        declared = domain.declaration
        profile = declared.profile
        names |= {c.name for c in declared.columns} | set(declared.identifiers) | set(declared.risk_features)
        names |= set(profile.means) | set(profile.names) | set(profile.counts) | set(profile.top)
        names |= set(profile.headers) | {column for column, _ in profile.shares.values()}
        names |= set(declared.groups.values()) | set(declared.kept)
        for features in getattr(domain, "segment_features", None) or ():
            names |= set(features)
    return names


def string_constants(source: str) -> list[tuple[int, str]]:
    """Every string constant of a module but its docstrings, with its line."""
    import ast

    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def dataset_names_in(relative: str, source: str, names: set[str]) -> list[str]:
    """The declared column names a module's code (not its docstrings) holds as strings."""
    return [
        f"{relative}:{line}: {value!r}"
        for line, value in string_constants(source)
        if value in names and value not in SHARED_NAMES and (relative, value) not in COINCIDENCES
    ]


def test_general_stages_read_only_what_a_domain_declares() -> None:
    names = declared_names()
    assert {"transfusions_per_28d", "patient_nbr", "gender", "length_of_stay"} <= names  # both shipped domains
    found = []
    for stage in GENERAL_STAGES:
        root = REPO / "optalloc" / stage
        for path in [root] if stage.endswith(".py") else sorted(root.rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            found += dataset_names_in(relative, path.read_text(encoding="utf-8"), names)
    assert found == [], "a general stage names a dataset's column; pass it down from the domain:\n" + "\n".join(found)


def test_a_column_named_in_a_general_stage_would_be_caught() -> None:
    source = (
        '"""Docstrings may say transfusions_per_28d."""\n\n\ndef f(frame):\n    return frame["transfusions_per_28d"]\n'
    )
    found = dataset_names_in("optalloc/segments/leak.py", source, declared_names())
    assert found == ["optalloc/segments/leak.py:5: 'transfusions_per_28d'"]  # the subscript, not the docstring
