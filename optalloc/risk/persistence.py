"""Saving and loading trained risk models with the metadata needed to trust them.

A model file is three parts::

    OPTALLOC-RISK-MODEL 1\\n
    {metadata as one line of JSON}\\n
    <joblib pickle of the TrainedRiskModel>

The metadata records the library versions, the feature list, the SHA-256 of the training data
and the SHA-256 of the pickle itself. :func:`load_model` checks the header, the versions and the
pickle hash *before* unpickling, so a truncated download or a file written by another
scikit-learn never yields a model that silently predicts nonsense (scikit-learn only warns on
version mismatch; a clinical score must refuse).
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import scipy
import sklearn

from optalloc.errors import ModelFileError
from optalloc.io import atomic_path, jsonable

MAGIC = b"OPTALLOC-RISK-MODEL 1\n"
# Libraries whose pickled objects must match exactly: a fitted scikit-learn estimator is only
# guaranteed to unpickle and predict identically under the version that wrote it.
EXACT_VERSIONS = ("scikit-learn",)
# Libraries where the same major.minor suffices (their array/frame pickles are stable within one).
MINOR_VERSIONS = ("python", "numpy", "scipy", "pandas", "joblib")


@dataclass
class TrainedRiskModel:
    """A fitted risk model and what it needs to score a table.

    Attributes
    ----------
    estimator : object
        Fitted classifier with ``predict_proba`` (usually a ``CalibratedRiskModel``).
    name : str
        Model kind (``lr``, ``tree``, ``rf``, ``hgb``, ``lace``).
    domain : str
        ``"diabetes130"`` (encounter features from :mod:`optalloc.risk.features`) or
        ``"transfusion"`` (the cohort columns of :mod:`optalloc.cohort.schema`).
    features : list of str
        Columns of the feature table, in order.
    metadata : dict
        Training facts: data SHA-256, n rows/patients, CV metrics, seed.
    """

    estimator: Any
    name: str
    domain: str
    features: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's content (values and column names), independent of file format."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def save_model(model: TrainedRiskModel, path: Path | str) -> Path:
    """Write ``model`` atomically with its metadata header; return the path."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    header = {
        "format": "optalloc-risk-model",
        "format_version": 1,
        "name": model.name,
        "domain": model.domain,
        "features": list(model.features),
        "versions": library_versions(),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "metadata": model.metadata,
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(MAGIC)
            handle.write(json.dumps(jsonable(header)).encode("utf-8") + b"\n")
            handle.write(payload)
    return target


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def version_mismatches(saved: dict[str, str], current: dict[str, str] | None = None) -> list[str]:
    """Human-readable differences that make a saved model unsafe to load."""
    now = library_versions() if current is None else current
    problems = []
    for name in EXACT_VERSIONS:
        if saved.get(name) != now.get(name):
            problems.append(f"{name} {saved.get(name)} (installed: {now.get(name)})")
    for name in MINOR_VERSIONS:
        if _major_minor(str(saved.get(name))) != _major_minor(str(now.get(name))):
            problems.append(f"{name} {saved.get(name)} (installed: {now.get(name)})")
    return problems


def read_header(path: Path | str) -> tuple[dict[str, Any], bytes]:
    """Return the metadata header and the raw pickle bytes, checking format and integrity."""
    source = Path(path)
    if not source.exists():
        raise ModelFileError(f"{source}: no such model file. Check the path, or train one with "
                             "'optalloc risk train'.")
    data = source.read_bytes()
    if not data.startswith(MAGIC):
        raise ModelFileError(
            f"{source}: not an optalloc risk model (the file does not start with the model "
            "header). Pass a file written by 'optalloc risk train' or optalloc.risk.save_model."
        )
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):end].decode("utf-8")) if end > 0 else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or "payload_sha256" not in header:
        raise ModelFileError(
            f"{source}: the model header is damaged, so the file is corrupt. Train the model "
            "again with 'optalloc risk train' (or restore the file from a backup)."
        )
    payload = data[end + 1:]
    if hashlib.sha256(payload).hexdigest() != header["payload_sha256"]:
        raise ModelFileError(
            f"{source}: the model file is corrupt or truncated (its content does not match the "
            "SHA-256 recorded when it was saved). Train the model again or restore the file."
        )
    return header, payload


def load_model(path: Path | str) -> TrainedRiskModel:
    """Load a model saved by :func:`save_model`, refusing corrupt files and version mismatches.

    Raises
    ------
    ModelFileError
        The file is missing, not a model, corrupt, or written by library versions that differ
        from the installed ones (scikit-learn exactly; Python, NumPy, SciPy, pandas, joblib by
        major.minor).
    """
    header, payload = read_header(path)
    problems = version_mismatches(header.get("versions", {}))
    if problems:
        raise ModelFileError(
            f"{path}: the model was saved with {', '.join(problems)}. A model is only trusted "
            "with the library versions that trained it: retrain it here with 'optalloc risk "
            "train', or install the versions listed."
        )
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise ModelFileError(
            f"{path}: the model could not be unpickled ({type(exc).__name__}: {exc}). "
            "Train the model again with 'optalloc risk train'."
        ) from exc
    if not isinstance(model, TrainedRiskModel):
        raise ModelFileError(
            f"{path}: the file holds a {type(model).__name__}, not a trained risk model. "
            "Pass a file written by 'optalloc risk train'."
        )
    return model
