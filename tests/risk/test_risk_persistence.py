"""Model files: round trip with metadata; refusal on corruption and version mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc.errors import ModelFileError
from optalloc.risk.models import make_model
from optalloc.risk.persistence import MAGIC, TrainedRiskModel, load_model, read_header, save_model


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
    header = json.loads(data[len(MAGIC) : end])
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


class _Payload:
    """Unpickling this runs a shell command: what a hostile model file would carry."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.sentinel}",))


def _hostile_files(model: TrainedRiskModel, folder: Path) -> dict[str, Path]:
    """A real header with (a) a pickle in the old format, (b) a pickle in the new format and
    (c) a skops payload naming os.system; every payload hash recomputed so only the content
    check stands between the file and the code."""
    import functools
    import hashlib
    import os
    import pickle

    import skops.io as sio

    from optalloc.risk.persistence import LEGACY_MAGIC

    real = save_model(model, folder / "real.model")
    data = real.read_bytes()
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : end])
    sentinel = folder / "sentinel"
    payloads = {
        "legacy": (LEGACY_MAGIC, pickle.dumps(_Payload(sentinel))),
        "pickle": (MAGIC, pickle.dumps(_Payload(sentinel))),
        "skops": (MAGIC, sio.dumps(functools.partial(os.system, f"touch {sentinel}"))),
    }
    files = {}
    for name, (magic, payload) in payloads.items():
        header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
        path = folder / f"{name}.model"
        path.write_bytes(magic + json.dumps(header).encode() + b"\n" + payload)
        files[name] = path
    return files


def test_crafted_model_files_run_nothing(trained: tuple[TrainedRiskModel, pd.DataFrame], tmp_path: Path) -> None:
    files = _hostile_files(trained[0], tmp_path)
    expected = {"legacy": "first format", "pickle": "cannot be read", "skops": "never holds"}
    for name, path in files.items():
        with pytest.raises(ModelFileError, match=expected[name]):
            load_model(path)
    assert not (tmp_path / "sentinel").exists()


def test_crafted_model_refused_by_every_command(tmp_path: Path) -> None:
    """``risk evaluate``, ``risk explain`` and a scenario's ``[risk] model`` refuse it (exit 2)."""
    from typer.testing import CliRunner

    from optalloc.cli import app
    from optalloc.cohort.synth import synthesize_cohort
    from optalloc.risk.training import fit_model, transfusion_design
    from tests.helpers.files import write_scenario

    cohort = synthesize_cohort(400, seed=3)
    cohort_file = tmp_path / "cohort.csv"
    cohort.to_csv(cohort_file, index=False)
    files = _hostile_files(fit_model(transfusion_design(cohort), "lr", 0), tmp_path)
    runner = CliRunner()
    for path in files.values():
        for args in (
            ["risk", "evaluate", str(path), str(cohort_file)],
            ["risk", "explain", str(path), str(cohort_file)],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, (args, result.output)
        scenario = write_scenario(
            tmp_path,
            f'extends = "baseline.toml"\n[cohort]\npatients = 300\n[risk]\nmodel = "{path}"\n',
            name=f"{path.stem}.toml",
        )
        result = runner.invoke(app, ["solve", str(scenario)])
        assert result.exit_code == 2 and path.name in result.output, result.output
    assert not (tmp_path / "sentinel").exists()
