"""Package names imported on first use (PEP 562): importing a package such as ``optalloc.risk``
or ``optalloc.segments`` then loads none of its heavy modules (scikit-learn) until a name that
needs them is read, so the CLI and the domain declarations start quickly."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` giving each of ``names`` (name -> module) from its module."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
