"""Reading and writing tables safely.

Writes go to a temporary file beside the target and are renamed into place, so a failure
half-way never leaves a truncated file that a later step would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optalloc import interrupts
from optalloc.errors import OptallocError

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def check_output(path: Path | None, suffixes: tuple[str, ...] = TABLE_SUFFIXES, option: str = "--out") -> None:
    """Refuse an output path before any work: a folder, a folder that cannot be made or written,
    or a name whose ending says nothing optalloc writes. ``None`` (no output asked) passes."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise OptallocError(f"{option} {target}: this is a folder; give a file name inside it.")
    if not target.name.lower().endswith(suffixes):
        raise OptallocError(f"{option} {target}: the file name must end in {', '.join(suffixes)}.")
    parent = target.parent if str(target.parent) else Path(".")
    try:  # make the folder now and write a probe: the only test that holds for root too
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OptallocError(
            f"{option} {target}: cannot write in {parent} ({exc.strerror or exc}). Choose a place you can write to."
        ) from None


def table_format(path: Path) -> str:
    """Return ``"csv"`` or ``"parquet"`` from the file name, or raise a clear error."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise OptallocError(f"{path}: unknown table format. Use a file name ending in .csv, .csv.gz or .parquet.")


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        interrupts.check()  # an interrupt, even one swallowed on its way, writes nothing
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a table as CSV or Parquet (chosen by extension), atomically."""
    target = Path(path)
    fmt = table_format(target)
    with atomic_path(target) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, compression="gzip" if target.name.endswith(".gz") else None)
        else:
            frame.to_parquet(tmp, index=False)
    return target


def csv_dialect(path: Path) -> dict[str, Any]:
    """Separator and encoding of a CSV file, detected from its start: hospital exports are often
    semicolon-separated (decimal commas) and Latin-1. Returns ``read_csv`` options."""
    import csv
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return {}
    try:
        text = head.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            text, encoding = head.decode("latin-1"), "latin-1"
        else:
            text, encoding = head[: exc.start].decode("utf-8"), "utf-8"
    options: dict[str, Any] = {"encoding": encoding}
    first = text.splitlines()[0] if text else ""
    if first.count(";") > first.count(",") and first.count(";") > first.count("\t"):
        options.update(sep=";", decimal=",")
    elif first.count("\t") > first.count(","):
        options["sep"] = "\t"
    else:
        with contextlib.suppress(csv.Error):
            options["sep"] = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    return options


def read_table(path: Path | str, **csv_options: object) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning parser failures into one clear paragraph."""
    source = Path(path)
    fmt = table_format(source)
    if not source.exists():
        raise OptallocError(f"{source}: no such file. Check the path and try again.")
    try:
        if fmt == "csv":
            options = {**csv_dialect(source), **csv_options}
            return pd.read_csv(source, **options)  # type: ignore[arg-type]
        return pd.read_parquet(source)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OptallocError(
            f"{source}: the file could not be read as {fmt.upper()} ({first_line}). "
            "It may be corrupt or truncated; re-export it from its source."
        ) from exc


def table_columns(path: Path | str) -> list[str]:
    """Column names of a table file without reading its rows (the CSV separator and encoding
    detected as on load); raises what reading raises, so callers decide what unreadable means."""
    path = Path(path)
    if path.name.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    dialect = {k: v for k, v in csv_dialect(path).items() if k in ("sep", "encoding")}
    return list(pd.read_csv(path, nrows=0, **dialect).columns)


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, NaN/inf to None, enums to their value."""

    def default(item: Any) -> Any:
        if hasattr(item, "tolist"):
            return item.tolist()
        if hasattr(item, "value"):
            return item.value
        return str(item)

    def finite(item: Any) -> Any:
        if isinstance(item, float) and not np.isfinite(item):
            return None
        if isinstance(item, dict):
            return {str(k): finite(v) for k, v in item.items()}
        if isinstance(item, list):
            return [finite(v) for v in item]
        return item

    return finite(json.loads(json.dumps(value, default=default, allow_nan=True)))


def redact_url(url: str) -> str:
    """A database URL fit for a message: the password replaced by ``***``, whatever the URL."""
    import re

    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//[^@/]*@", "//***@", url)
