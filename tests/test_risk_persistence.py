"""Model files: round trip with metadata; refusal on corruption and version mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc.errors import ModelFileError
from optalloc.risk.persistence import MAGIC, TrainedRiskModel, load_model, read_header, save_model
from optalloc.risk.models import make_model


@pytest.fixture(scope="module")
def trained() -> tuple[TrainedRiskModel, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
    y = (rng.random(400) < 1 / (1 + np.exp(-X["x"]))).astype(int)
    est = make_model("lr", ["x"], ["c"]).fit(X, y, groups=np.arange(400))
    return TrainedRiskModel(est, "lr", "transfusion", ["x", "c"], {"training_data_sha256": "ab" * 32}), X


def test_round_trip(trained: tuple[TrainedRiskModel, pd.DataFrame], tmp_path: Path) -> None:
    model, X = trained
    path = save_model(model, tmp_path / "m.model")
    header, _ = read_header(path)
    assert header["features"] == ["x", "c"]
    assert header["versions"]["scikit-learn"] and header["metadata"]["training_data_sha256"] == "ab" * 32
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.estimator.predict_proba(X), model.estimator.predict_proba(X))


def test_version_mismatch_refused(trained: tuple[TrainedRiskModel, pd.DataFrame], tmp_path: Path) -> None:
    path = save_model(trained[0], tmp_path / "m.model")
    data = path.read_bytes()
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC):end])
    header["versions"]["scikit-learn"] = "0.24.2"
    path.write_bytes(MAGIC + json.dumps(header).encode() + data[end:])
    with pytest.raises(ModelFileError, match=r"scikit-learn 0\.24\.2 \(installed"):
        load_model(path)


def test_corrupt_truncated_and_foreign_files(trained: tuple[TrainedRiskModel, pd.DataFrame], tmp_path: Path) -> None:
    path = save_model(trained[0], tmp_path / "m.model")
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_model(path)
    foreign = tmp_path / "other.pkl"
    foreign.write_bytes(b"\x80\x04not a model")
    with pytest.raises(ModelFileError, match="not an optalloc risk model"):
        load_model(foreign)
    damaged = tmp_path / "damaged.model"
    damaged.write_bytes(MAGIC + b"{oops\n" + b"payload")
    with pytest.raises(ModelFileError, match="header is damaged"):
        load_model(damaged)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.model")
