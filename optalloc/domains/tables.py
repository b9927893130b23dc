"""Which kind of table a file is, asked of the domains, and how it is read.

``optalloc risk``, ``track`` and ``forecast`` take a file and must know how to read it: a
Diabetes 130 encounter file, a readmission stays table or a transfusion cohort. Each domain
lists the kinds of table it reads (its ``tables``: a :class:`TableKind` saying from a header
whether it is one, and how to load it), so the general stages and :mod:`optalloc.risk` name no
dataset's columns to tell them apart, and a new domain's tables are found the same way
(:func:`optalloc.domains.load_table` asks every registered domain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from optalloc.io import table_columns

if TYPE_CHECKING:  # the training stack loads when a table is read
    from optalloc.risk.training import Design

Loader = Callable[[Path | None], "tuple[pd.DataFrame, Design]"]


@dataclass(frozen=True)
class TableKind:
    """One kind of table a domain reads."""

    name: str
    """What :attr:`Design.domain` and a trained model record (``"diabetes130"``)."""
    recognises: Callable[[Sequence[str]], bool]
    """From a file's column names: whether it is this kind."""
    load: Loader
    """The loaded rows (pseudonymised) and the model inputs; ``None``: the shipped table."""
    shipped: bool = False
    """Read when no file is given, and for a file whose header cannot be read (its loader then
    says what is wrong with the file)."""
    fallback: bool = False
    """Read when no kind recognises a header: its loader names the columns that are missing."""


def kind_of(path: Path | str | None, kinds: Sequence[TableKind]) -> TableKind | None:
    """The kind of table ``path`` is among ``kinds`` (None: none of them)."""
    shipped = next((k for k in kinds if k.shipped), None)
    if path is None:
        return shipped
    try:
        header = table_columns(Path(path))
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError):
        return shipped
    return next((k for k in kinds if k.recognises(header)), next((k for k in kinds if k.fallback), None))
