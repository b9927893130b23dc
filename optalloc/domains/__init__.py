"""Kinds of cohort, by name (``[cohort] domain = "..."`` in a scenario).

Adding a domain is one module with an object following :class:`~optalloc.domains.base.Domain`
and one line in :data:`DOMAINS`.
"""

from __future__ import annotations

from optalloc.domains import readmission, transfusion
from optalloc.domains.base import Domain, Risk
from optalloc.errors import ScenarioError

DOMAINS: dict[str, Domain] = {
    "transfusion": transfusion.DOMAIN,
    "readmission": readmission.DOMAIN,
}


def get_domain(name: str, where: str = "") -> Domain:
    """The domain called ``name``; an unknown one is an error listing the known ones."""
    if name not in DOMAINS:
        raise ScenarioError(
            f"{where}cohort.domain {name!r} is not a known kind of cohort (known: {', '.join(DOMAINS)})."
        )
    return DOMAINS[name]


__all__ = ["DOMAINS", "Domain", "Risk", "get_domain"]
