"""Pseudonyms for patient identifiers and suppression of small counts.

Real identifiers (an MRN, ``patient_nbr``, an OMOP ``person_id``) are replaced on import by a
keyed HMAC-SHA256 pseudonym. The key comes from ``OPTALLOC_PSEUDONYM_KEY`` or, failing that, a
random key kept in the workspace folder, so the same patient gets the same pseudonym in every
run of one workspace while nobody without the key can reverse or re-compute it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

KEY_ENV = "OPTALLOC_PSEUDONYM_KEY"
WORKSPACE_ENV = "OPTALLOC_WORKSPACE"
PSEUDONYM_PATTERN = re.compile(r"^p[0-9a-f]{16}$")
SMALL_COUNT_THRESHOLD = 11
SUPPRESSED = "<11"


def workspace_dir() -> Path:
    """The folder holding the workspace database and key (``.optalloc`` by default)."""
    return Path(os.environ.get(WORKSPACE_ENV, ".optalloc"))


def pseudonym_key() -> bytes:
    """Return the pseudonym key, creating a private random one in the workspace if needed."""
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return env_key.encode("utf-8")
    key_file = workspace_dir() / "pseudonym.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return key_file.read_text().strip().encode("utf-8")


def is_pseudonym(value: object) -> bool:
    """True if ``value`` already has the pseudonym form, so it is not hashed twice."""
    return isinstance(value, str) and bool(PSEUDONYM_PATTERN.match(value))


def pseudonymize(values: Iterable[object], key: bytes | None = None) -> np.ndarray:
    """Map identifiers to ``p`` + 16 hex digits of HMAC-SHA256; existing pseudonyms pass through."""
    secret = pseudonym_key() if key is None else key
    out = []
    for value in values:
        if is_pseudonym(value):
            out.append(value)
            continue
        digest = hmac.new(secret, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        out.append("p" + digest[:16])
    return np.asarray(out, dtype=object)


def pseudonymize_column(values: pd.Series, key: bytes | None = None) -> np.ndarray:
    """Pseudonymise each distinct identifier once (HMAC is the slow part) and map back."""
    text = values.astype(str).str.strip()
    uniques = pd.unique(text)
    lookup = dict(zip(uniques, pseudonymize(uniques, key=key), strict=True))
    return text.map(lookup).to_numpy(dtype=object)


def suppress_small_counts(
    frame: pd.DataFrame, columns: Iterable[str], threshold: int = SMALL_COUNT_THRESHOLD,
    derived: Iterable[str] = (),
) -> pd.DataFrame:
    """Return a copy where counts in ``columns`` below ``threshold`` (but above 0) read ``<11``.

    Counts of zero stay: they disclose no patient. ``derived`` columns (rates, shares, means
    computed from those counts) are blanked in the same rows, since a rate and one known count
    give the hidden count back.
    """
    shared = frame.copy()
    columns = list(columns)
    hidden = pd.Series(False, index=shared.index)
    for column in columns:
        values = shared[column]
        small = (values > 0) & (values < threshold)
        hidden |= small
        shared[column] = values.astype(object).where(~small, SUPPRESSED)
    for column in derived:
        shared[column] = shared[column].astype(object).where(~hidden, None)
    return shared
