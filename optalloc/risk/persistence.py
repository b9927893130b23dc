"""Saving and loading trained risk models without ever unpickling.

A model file is three parts::

    OPTALLOC-RISK-MODEL 2\\n
    {name, domain, features, versions, metadata and the payload's SHA-256, as one line of JSON}\\n
    <the fitted estimator in the skops format>

Model files travel by e-mail and shared drives, and a pickle runs whatever code it names when
loaded, so the estimator is stored with :mod:`skops.io`, which rebuilds objects from a
description and refuses any type not on :data:`TRUSTED_TYPES` (scikit-learn's own types are
trusted by skops; ours and the few scikit-learn internals the models hold are listed here). The
header is plain JSON. :func:`load_model` checks the header, the versions, the payload hash and
the payload's types *before* building anything, so a truncated download, a file written by
another scikit-learn or a crafted file never yields a model. The hash proves the file is
whole, not that it is honest; the type check is what makes a hostile file harmless.
Files of format 1 (a joblib pickle) are refused unread, with the command to re-train.
"""

from __future__ import annotations

import hashlib
import json
import platform
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
import sklearn
import skops
import skops.io as skops_io

from optalloc.errors import ModelFileError
from optalloc.io import atomic_path, jsonable

MAGIC = b"OPTALLOC-RISK-MODEL 2\n"
LEGACY_MAGIC = b"OPTALLOC-RISK-MODEL 1\n"
#: Types beyond skops' defaults that a trained model may hold; anything else is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "optalloc.risk.models.CalibratedRiskModel",
    "optalloc.risk.lace.LaceClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "functools.partial",  # skops rebuilds it from its parts; its function must be trusted too
)
# Libraries whose pickled objects must match exactly: a fitted scikit-learn estimator is only
# guaranteed to unpickle and predict identically under the version that wrote it.
EXACT_VERSIONS = ("scikit-learn",)
# Libraries where the same major.minor suffices (their array/frame pickles are stable within one).
MINOR_VERSIONS = ("python", "numpy", "scipy", "pandas", "skops")


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
        ``"diabetes130"`` (encounter features from :mod:`optalloc.domains.encounters`) or
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
        "skops": skops.__version__,
    }


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's content (values and column names), independent of file format."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def save_model(model: TrainedRiskModel, path: Path | str) -> Path:
    """Write ``model`` atomically with its metadata header; return the path."""
    payload = skops_io.dumps(model.estimator, compression=zipfile.ZIP_DEFLATED)
    header = {
        "format": "optalloc-risk-model",
        "format_version": 2,
        "name": model.name,
        "domain": model.domain,
        "features": list(model.features),
        "versions": library_versions(),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "metadata": model.metadata,
    }
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
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
        raise ModelFileError(f"{source}: no such model file. Check the path, or train one with 'optalloc risk train'.")
    data = source.read_bytes()
    if data.startswith(LEGACY_MAGIC):
        raise ModelFileError(
            f"{source}: a model file of optalloc's first format (a pickle, which can run code when "
            "loaded), so it is not opened. Train the model again with 'optalloc risk train --out "
            "model.skops' (it takes a few minutes on the shipped data)."
        )
    if not data.startswith(MAGIC):
        raise ModelFileError(
            f"{source}: not an optalloc risk model (the file does not start with the model "
            "header). Pass a file written by 'optalloc risk train' or optalloc.risk.save_model."
        )
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : end].decode("utf-8")) if end > 0 else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or "payload_sha256" not in header:
        raise ModelFileError(
            f"{source}: the model header is damaged, so the file is corrupt. Train the model "
            "again with 'optalloc risk train' (or restore the file from a backup)."
        )
    payload = data[end + 1 :]
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
        The file is missing, not a model, corrupt, of the old pickle format, names a type a
        model never holds, or was written by library versions that differ from the installed
        ones (scikit-learn exactly; Python, NumPy, SciPy, pandas, skops by major.minor).
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
        found = skops_io.get_untrusted_types(data=payload)
    except Exception as exc:
        raise ModelFileError(
            f"{path}: the model payload cannot be read ({type(exc).__name__}). Train the "
            "model again with 'optalloc risk train'."
        ) from None
    refused = sorted(set(found) - set(TRUSTED_TYPES))
    if refused:
        raise ModelFileError(
            f"{path}: the model file names type(s) a risk model never holds ({', '.join(refused[:5])}), so it "
            "was not loaded: it may have been tampered with. Use a model written by 'optalloc risk train'."
        )
    try:
        estimator = skops_io.loads(payload, trusted=list(found))
    except Exception as exc:
        raise ModelFileError(
            f"{path}: the model could not be rebuilt ({type(exc).__name__}: {exc}). "
            "Train the model again with 'optalloc risk train'."
        ) from None
    if not hasattr(estimator, "predict_proba"):
        raise ModelFileError(
            f"{path}: the file holds a {type(estimator).__name__}, not a trained risk model. "
            "Pass a file written by 'optalloc risk train'."
        )
    for key in ("name", "domain", "features"):
        if key not in header:
            raise ModelFileError(f"{path}: the model header lacks {key!r}; the file is damaged. Train it again.")
    model = TrainedRiskModel(
        estimator=estimator,
        name=str(header["name"]),
        domain=str(header["domain"]),
        features=[str(f) for f in header["features"]],
        metadata=dict(header.get("metadata") or {}),
    )
    return model
