"""The choice of k against shuffled data, the widening at the boundary, the verdict, held-out rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from optalloc.cli import segment as segment_cli
from optalloc.cohort.synth import TYPE_COLUMN
from optalloc.cohort.synth_overlap import synthesize_overlap
from optalloc.segments import ConsensusClustering, segment_cohort
from optalloc.segments.benchmark import kmeans_told_k
from optalloc.segments.mixture import MixedMixture
from optalloc.segments.rules import describe_segments, rules_frame
from optalloc.segments.selection import choose_k_by_gain

QUICK = {"n_base": 6, "sample_size": 400, "n_null": 2, "mixture_criteria": False}


def _blobs(centres: int, n: int = 700, seed: int = 0) -> np.ndarray:
    """``centres`` groups 5 standard deviations apart along orthogonal directions of 8 columns."""
    rng = np.random.default_rng(seed)
    means = 5.0 * np.eye(8)[:centres]
    return means[rng.integers(0, centres, n)] + rng.normal(0, 1.0, (n, 8))


def test_gain_decides_and_the_table_explains_every_k() -> None:
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6],
            "consensus_index": [0.85, 0.80, 0.78, 0.77, 0.66],
            "consensus_null": [0.62, 0.47, 0.42, 0.36, 0.33],
            "pac": [0.45, 0.42, 0.38, 0.33, 0.30],
            "silhouette": [0.20, 0.18, 0.17, 0.16, 0.14],
            "min_segment_share": [0.3, 0.2, 0.15, 0.12, 0.01],
        }
    )
    table["consensus_gain"] = table["consensus_index"] - table["consensus_null"]
    k, explained, verdict = choose_k_by_gain(table)
    assert k == 5
    reason = dict(zip(explained["k"], explained["reason"]))
    assert reason[5].startswith("chosen") and "silhouette k=2" in reason[5]
    assert "below the best" in reason[3]
    assert "outliers" in reason[6]
    assert verdict.startswith("Clear groups")
    weak = table.assign(consensus_null=table["consensus_index"] - 0.05, consensus_gain=0.05)
    assert choose_k_by_gain(weak)[2].startswith("No clear groups")
    # A crisp consensus (PAC near 0) is clear groups even where the shuffled copy keeps clusters.
    crisp = weak.assign(pac=[0.45, 0.42, 0.02, 0.2, 0.3])
    k, _, verdict = choose_k_by_gain(crisp)
    assert k == 4 and verdict.startswith("Clear groups")


def test_range_widens_when_the_choice_sits_on_its_top() -> None:
    X = _blobs(7)
    model = ConsensusClustering(k_range=(2, 4), random_state=0, **{**QUICK, "n_base": 10}).fit(X)
    assert model.k_table_["k"].max() > 4
    assert model.n_clusters_ == 7
    assert model.verdict_.startswith("Clear groups")


def test_structureless_data_is_called_so() -> None:
    X = np.random.default_rng(3).normal(size=(600, 4))
    model = ConsensusClustering(k_range=(2, 5), random_state=0, widen=0, **QUICK).fit(X)
    assert model.verdict_.startswith("No clear groups")
    # Told a k, it still gives that partition and says what it is.
    told = ConsensusClustering(n_clusters=3, random_state=0, **QUICK).fit(X)
    assert len(np.unique(told.labels_)) == 3 and "not natural groups" in told.verdict_


def test_overlapping_types_found_at_their_number_and_better_than_kmeans() -> None:
    cohort = synthesize_overlap(2500, seed=11)
    result = segment_cohort(cohort, seed=11, sample_size=800, n_base=12)
    truth = cohort[TYPE_COLUMN]
    assert abs(result.k - 5) <= 1
    kmeans = adjusted_rand_score(truth, kmeans_told_k(cohort, ["age", "frailty", "haemoglobin_g_dl"], 5))
    assert adjusted_rand_score(truth, result.labels) > kmeans
    assert {"consensus_null", "consensus_gain", "calinski_harabasz", "gap", "bic", "icl"} <= set(result.k_table.columns)


def test_rules_report_held_out_precision_and_say_when_none_is_good() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(20, 95, 2000), "diagnosis": rng.choice(list("abc"), 2000)})
    planted = ((frame["age"] >= 60) & (frame["diagnosis"] == "a")).astype(int).to_numpy()
    good = rules_frame(describe_segments(frame, planted, numeric=["age"], categorical=["diagnosis"]))
    assert good.loc[1, "heldout_precision"] > 0.9 and good.loc[1, "meets_precision"]
    assert abs(good.loc[1, "heldout_precision"] - good.loc[1, "fit_precision"]) < 0.05
    noise = rng.integers(0, 3, 2000)  # segments no rule can describe
    poor = rules_frame(describe_segments(frame, noise, numeric=["age"], categorical=["diagnosis"], min_precision=0.7))
    assert not poor["meets_precision"].any()
    assert poor["note"].str.startswith("No rule of at most 3 conditions reaches 70% precision").all()
    with pytest.raises(ValueError, match="holdout"):
        describe_segments(frame, planted, numeric=["age"], holdout=1.0)


def test_mixed_mixture_recovers_mixed_groups_and_bic_prefers_them() -> None:
    rng = np.random.default_rng(1)
    n = 600
    group = rng.integers(0, 2, n)
    numeric = rng.normal(group * 4.0, 1.0)[:, None]
    level = np.where(rng.random(n) < 0.85, group, 1 - group)  # a category that mostly follows the group
    X = np.hstack([numeric, np.eye(2)[level]])
    fits = {k: MixedMixture(k, categorical=[[1, 2]], random_state=0).fit(X) for k in (1, 2, 3)}
    assert adjusted_rand_score(group, fits[2].labels_) > 0.8
    assert fits[2].bic() < fits[1].bic() and fits[2].bic() < fits[3].bic()
    assert np.allclose(fits[2].predict_proba(X).sum(axis=1), 1.0)


def test_weighted_consensus_and_mixture_member_run_and_stay_deterministic() -> None:
    X = _blobs(4, n=400)
    settings = {**QUICK, "n_clusters": 4, "weighting": "agreement", "algorithms": ("kmeans", "mixture")}
    a = ConsensusClustering(random_state=5, **settings).fit(X)
    b = ConsensusClustering(random_state=5, **settings).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    truth = np.argmax(X[:, :4], axis=1)
    assert adjusted_rand_score(truth, a.labels_) > 0.9
    with pytest.raises(ValueError, match="algorithms"):
        ConsensusClustering(algorithms=("kmeans", "dbscan")).fit(X)


def test_cli_reports_verdict_and_flags_rules_below_the_planners_precision(tmp_path: Path) -> None:
    path = tmp_path / "overlap.csv"
    synthesize_overlap(600, seed=2).drop(columns=[TYPE_COLUMN]).to_csv(path, index=False)
    app = typer.Typer()
    segment_cli.register(app)
    app.command("noop", hidden=True)(lambda: None)
    result = CliRunner().invoke(app, ["segment", str(path), "--k", "4", "--min-precision", "0.99", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"].startswith("4 segments as asked")
    notes = [s["rule"]["note"] for s in payload["segments"]]
    assert any(n.startswith("No rule of at most 3 conditions reaches 99% precision") for n in notes)
    assert all(0.0 <= s["rule"]["heldout_precision"] <= 1.0 for s in payload["segments"])
    table = CliRunner().invoke(
        app, ["segment", str(path), "--k", "4", "--min-precision", "0.99"], env={"COLUMNS": "200"}
    )
    text = " ".join(re.sub("[│┃]", " ", table.stdout).split())  # cells wrap at the terminal width
    assert "No rule of at most 3 conditions reaches 99% precision" in text


def test_among_crisp_partitions_the_one_with_the_largest_gain_is_chosen() -> None:
    """Blobs of unequal spread (make_blobs, seed 0): 2, 5 and 6 segments are all crisp, because
    merging whole blobs or cutting the widest in a fixed place is reproducible too; the gain
    over shuffled columns tells the five blobs apart."""
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6, 7],
            "pac": [0.027, 0.110, 0.135, 0.007, 0.038, 0.065],
            "consensus_index": [0.976, 0.957, 0.961, 0.993, 0.964, 0.899],
            "consensus_null": [0.746, 0.648, 0.597, 0.637, 0.615, 0.552],
            "silhouette": [0.39, 0.40, 0.40, 0.46, 0.43, 0.38],
            "min_segment_share": [0.2, 0.15, 0.12, 0.1, 0.08, 0.05],
        }
    )
    table["consensus_gain"] = table["consensus_index"] - table["consensus_null"]
    chosen, explained, verdict = choose_k_by_gain(table)
    assert chosen == 5
    assert "crisp" in explained.loc[explained["chosen"], "reason"].iloc[0]
    assert verdict.startswith("Clear groups")


def test_a_near_tie_of_the_gain_goes_to_the_gap_statistics_k() -> None:
    """Tilted, elongated blobs (bench_segments_k.py, anisotropic seed 3): merging them into 3 is
    crisp and has the largest gain by 0.006, the gap statistic peaks at the true 5."""
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6, 7, 8],
            "pac": [0.006, 0.000, 0.158, 0.076, 0.125, 0.164, 0.173],
            "consensus_index": [0.985, 1.000, 0.932, 0.940, 0.855, 0.791, 0.767],
            "consensus_null": [0.691, 0.620, 0.577, 0.566, 0.540, 0.506, 0.493],
            "silhouette": [0.507, 0.545, 0.497, 0.414, 0.361, 0.351, 0.305],
            "gap_pca": [0.806, 1.275, 1.397, 1.510, 1.480, 1.474, 1.483],
            "gap_pca_se": [0.007, 0.020, 0.014, 0.013, 0.009, 0.012, 0.008],
            "min_segment_share": [0.402, 0.199, 0.199, 0.190, 0.004, 0.042, 0.049],
        }
    )
    table["consensus_gain"] = table["consensus_index"] - table["consensus_null"]
    chosen, explained, _ = choose_k_by_gain(table, gap_at_one=(0.460, 0.009))
    assert chosen == 5
    assert "ties with the best" in explained.loc[explained["chosen"], "reason"].iloc[0]
    # Without the gap statistic the crisp, larger gain stands.
    assert choose_k_by_gain(table.drop(columns=["gap_pca", "gap_pca_se"]))[0] == 3
