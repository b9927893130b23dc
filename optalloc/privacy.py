"""Pseudonyms for patient identifiers and suppression of small counts.

Real identifiers (an MRN, ``patient_nbr``, an OMOP ``person_id``) are replaced on import by a
keyed HMAC-SHA256 pseudonym. The key comes from ``OPTALLOC_PSEUDONYM_KEY`` or, failing that, a
random key kept in the workspace folder, so the same patient gets the same pseudonym in every
run of one workspace while nobody without the key can reverse or re-compute it.
"""

from __future__ import annotations

import hashlib
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
SHA256_BLOCK = 64  # bytes: the HMAC key is padded (or first hashed) to this


def workspace_dir() -> Path:
    """The folder holding the workspace database and key (``.optalloc`` by default)."""
    return Path(os.environ.get(WORKSPACE_ENV, ".optalloc"))


KEY_FILE_ENV = "OPTALLOC_PSEUDONYM_KEY_FILE"


def private_dir(folder: Path) -> Path:
    """Create ``folder`` (and parents) readable by its owner only (0700), and make an existing
    one so: the workspace holds the database and maybe the key."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def private_file(path: Path) -> Path:
    """Make ``path`` readable and writable by its owner only (0600)."""
    if path.exists():
        os.chmod(path, 0o600)
    return path


def pseudonym_key() -> bytes:
    """The pseudonym key: ``OPTALLOC_PSEUDONYM_KEY``, else the file ``OPTALLOC_PSEUDONYM_KEY_FILE``
    names (keep it apart from the workspace: with the key, sequential MRNs can be re-identified
    by trying them all), else a random key created once in the workspace (0600)."""
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return env_key.encode("utf-8")
    key_file = Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else workspace_dir() / "pseudonym.key"
    if os.environ.get(KEY_FILE_ENV) and not key_file.exists():
        from optalloc.errors import OptallocError

        raise OptallocError(
            f"{KEY_FILE_ENV}={key_file}: no such key file. Point it at the pseudonym key "
            "(a line of text), or unset it to use the workspace's own key."
        )
    if not key_file.exists():
        private_dir(key_file.parent)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return key_file.read_text().strip().encode("utf-8")


def is_pseudonym(value: object) -> bool:
    """True if ``value`` has the pseudonym form (``p`` + 16 hex digits). Only for recognising
    what optalloc itself shows; never a reason to leave a value unhashed."""
    return isinstance(value, str) and bool(PSEUDONYM_PATTERN.match(value))


def pseudonymize(values: Iterable[object], key: bytes | None = None) -> np.ndarray:
    """Map identifiers to ``p`` + 16 hex digits of HMAC-SHA256 of their text.

    Every value is hashed, whatever it looks like: a real identifier that happens to have the
    pseudonym's shape must not pass through in clear. HMAC is computed as RFC 2104 defines it,
    ``H((K ^ opad) || H((K ^ ipad) || text))``, from the two SHA-256 states after the padded
    key, built once and copied for each value: the same pseudonyms as :func:`hmac.new` (a test
    checks it), in about 30 % less time (benchmarks/RESULTS.md), because no Python HMAC object
    is made per value and the hex text is formed once for all of them.
    """
    secret = pseudonym_key() if key is None else key
    if len(secret) > SHA256_BLOCK:
        secret = hashlib.sha256(secret).digest()
    padded = secret.ljust(SHA256_BLOCK, b"\0")
    new_inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded)).copy
    new_outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded)).copy
    digests = []
    for value in values:
        inner = new_inner()
        inner.update(str(value).encode("utf-8"))
        outer = new_outer()
        outer.update(inner.digest())
        digests.append(outer.digest()[:8])
    text = b"".join(digests).hex()
    return np.array(["p" + text[at : at + 16] for at in range(0, len(text), 16)], dtype=object)


def resolve_patient(typed: str, pseudonyms: Iterable[object], key: bytes | None = None) -> str | None:
    """The pseudonym a user means by ``typed``: the pseudonym itself if it is one of
    ``pseudonyms`` (as optalloc shows them), else the pseudonym of ``typed`` as an original id;
    None if neither is known. Decided by membership, never by the text's shape."""
    known = {str(p) for p in pseudonyms}
    if typed in known:
        return typed
    hashed = str(pseudonymize([typed], key)[0])
    return hashed if hashed in known else None


def pseudonym_codes(values: pd.Series, key: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, pseudonyms)``: the distinct pseudonyms and, per row, the index of its own.

    Each distinct identifier (surrounding spaces ignored) is hashed once, and rows are mapped by
    integer codes rather than by text, which is what makes a million patients' table fast.
    """
    codes, uniques = pd.factorize(values.astype(str), use_na_sentinel=False)
    return _hashed_codes(codes, pd.Index(uniques), key)


def coded_pseudonym_codes(
    codes: np.ndarray, distinct: np.ndarray, key: bytes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`pseudonym_codes`, for identifiers already coded: row ``i`` holds
    ``distinct[codes[i]]`` (a Parquet column read as a dictionary), so the text of six million
    rows is never built. Pseudonyms come in the order of first appearance, as there."""
    rows, first = pd.factorize(codes)
    return _hashed_codes(rows, pd.Index(np.asarray(distinct, dtype=object)[first]), key)


def _hashed_codes(codes: np.ndarray, distinct: pd.Index, key: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    stripped = distinct.str.strip()
    if not stripped.equals(distinct):  # " A1" and "A1" are one patient
        merged, stripped = pd.factorize(stripped, use_na_sentinel=False)
        codes = merged[codes]
    return codes, pseudonymize(np.asarray(stripped, dtype=object), key=key)


def pseudonymize_column(values: pd.Series, key: bytes | None = None) -> np.ndarray:
    """Pseudonymise each distinct identifier once (HMAC is the slow part) and map back."""
    codes, pseudonyms = pseudonym_codes(values, key)
    return pseudonyms[codes]


def suppress_small_counts(
    frame: pd.DataFrame,
    columns: Iterable[str],
    threshold: int = SMALL_COUNT_THRESHOLD,
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
