"""Kinds of cohort, by name (``[cohort] domain = "..."`` in a scenario).

Adding a domain is one module with an object following :class:`~optalloc.domains.base.Domain`
and one line in :data:`DOMAINS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from optalloc.domains import readmission, transfusion
from optalloc.domains.base import Domain, Risk
from optalloc.domains.tables import TableKind, kind_of
from optalloc.errors import CohortError, ScenarioError

if TYPE_CHECKING:
    import pandas as pd

    from optalloc.risk.training import Design

DOMAINS: dict[str, Domain] = {
    "transfusion": transfusion.DOMAIN,
    "readmission": readmission.DOMAIN,
}


def get_domain(name: str, where: str = "", folder: Path | None = None) -> Domain:
    """The domain called ``name``, or declared in the TOML file ``name`` (relative to
    ``folder``, the scenario's); an unknown one is an error listing the known ones."""
    if name.endswith(".toml"):
        from optalloc.domains.declared import read_declared_domain

        path = Path(name) if Path(name).is_absolute() or folder is None else folder / name
        return read_declared_domain(path)
    if name not in DOMAINS:
        raise ScenarioError(
            f"{where}cohort.domain {name!r} is not a known kind of cohort (known: {', '.join(DOMAINS)}, "
            "or a domain file ending in .toml)."
        )
    return DOMAINS[name]


def table_kinds() -> list[TableKind]:
    """Every registered domain's kinds of table (``tables``), in registry order."""
    return [kind for domain in DOMAINS.values() for kind in getattr(domain, "tables", ())]


def domain_reading(kind: str) -> Domain:
    """The registered domain that reads tables of ``kind`` (a trained model's or a
    :class:`~optalloc.risk.training.Design`'s ``domain``)."""
    for domain in DOMAINS.values():
        if any(k.name == kind for k in getattr(domain, "tables", ())):
            return domain
    raise CohortError(
        f"No registered domain reads {kind!r} tables (known: {', '.join(k.name for k in table_kinds())})."
    )


#: Groups of any table whatever its domain: the segment (``optalloc segment --out``) and the
#: setting a plan gave (``optalloc track --plan``).
OWN_GROUPS = {"segment": "segment", "setting": "setting"}


def tracked_groups(kind: str | None = None) -> dict[str, str]:
    """Group name -> column for ``--by``: the groups of the domain reading tables of ``kind``
    (``Declaration.groups``), or without one every registered domain's group names (the
    choices a help text lists), then :data:`OWN_GROUPS`."""
    if kind is not None:
        return {**domain_reading(kind).declaration.groups, **OWN_GROUPS}
    return {**{n: c for d in reversed(list(DOMAINS.values())) for n, c in d.declaration.groups.items()}, **OWN_GROUPS}


def load_table(path: Path | str | None = None) -> tuple[pd.DataFrame, Design]:
    """Read a file of any kind a registered domain reads (default: the shipped Diabetes 130
    developer part), told apart by its columns: the loaded rows (pseudonymised, for groups and
    periods) and the model inputs."""
    kind = kind_of(path, table_kinds())
    if kind is None:
        raise CohortError(f"{path}: no registered domain reads a table with these columns.")
    return kind.load(None if path is None else Path(path))


def load_design(path: Path | str | None = None) -> Design:
    """The model inputs of a table (see :func:`load_table`)."""
    return load_table(path)[1]


__all__ = [
    "DOMAINS",
    "OWN_GROUPS",
    "Domain",
    "Risk",
    "TableKind",
    "domain_reading",
    "get_domain",
    "load_design",
    "load_table",
    "tracked_groups",
]
