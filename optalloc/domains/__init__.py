"""Kinds of cohort, by name (``[cohort] domain = "..."`` in a scenario).

Adding a domain is one module with an object following :class:`~optalloc.domains.base.Domain`
and one line in :data:`DOMAINS`.
"""

from __future__ import annotations

from pathlib import Path

from optalloc.domains import readmission, transfusion
from optalloc.domains.base import Domain, Risk
from optalloc.errors import ScenarioError

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


__all__ = ["DOMAINS", "Domain", "Risk", "get_domain"]
