"""Privacy by construction: no raw identifier or undeclared column is stored or printed; files
are owner-only; the key may live apart; ``reveal`` is the only way back."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from optalloc.privacy import pseudonym_codes, pseudonymize
from tests.helpers.files import write_scenario

runner = CliRunner()


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A hospital export: MRNs, a name, an NHS number and free text beside the cohort columns."""
    frame = synthesize_cohort(120, seed=4).drop(columns=["patient_id"])
    frame.insert(0, "mrn", [f"MRN-{i:06d}" for i in range(1, 121)])
    frame["patient_name"] = [f"Patient Name {i}" for i in range(120)]
    frame["nhs_number"] = [f"943 476 {i:04d}" for i in range(120)]
    frame["notes"] = "lives alone; daughter visits"
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return path


def _database_text(workspace: Path) -> str:
    connection = sqlite3.connect(workspace / "workspace.db")
    dump = "\n".join(connection.iterdump())
    connection.close()
    return dump


def test_import_keeps_only_declared_columns_and_pseudonyms(records: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["cohort", "import", str(records), "--name", "north"])
    assert result.exit_code == 0, result.output
    assert "patient_name, nhs_number, notes" in result.stderr
    dump = _database_text(tmp_path / "workspace")
    for leaked in ("MRN-000001", "MRN-000120", "Patient Name", "943 476", "daughter"):
        assert leaked not in dump
    strict = runner.invoke(app, ["cohort", "import", str(records), "--name", "south", "--strict"])
    assert strict.exit_code == 2 and "--strict" in strict.output
    again = runner.invoke(app, ["cohort", "import", str(records), "--name", "north"])
    assert again.exit_code == 2 and "--replace" in again.output
    listed = runner.invoke(app, ["cohort", "list"])
    assert "north" in listed.output and "120" in listed.output and "south" not in listed.output


def test_identifier_column_blanks_and_repeats(records: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(records, dtype=str).rename(columns={"mrn": "hospital_no"})
    custom = tmp_path / "custom.csv"
    frame.to_csv(custom, index=False)
    assert runner.invoke(app, ["cohort", "import", str(custom), "--name", "c"]).exit_code == 2
    done = runner.invoke(app, ["cohort", "import", str(custom), "--name", "c", "--id-column", "hospital_no"])
    assert done.exit_code == 0, done.output
    assert "MRN-000005" not in _database_text(tmp_path / "workspace")
    blank = frame.copy()
    blank.loc[6, "hospital_no"] = ""
    blank.to_csv(tmp_path / "blank.csv", index=False)
    result = runner.invoke(
        app, ["cohort", "import", str(tmp_path / "blank.csv"), "--name", "b", "--id-column", "hospital_no"]
    )
    assert result.exit_code == 2 and "row 7 has no patient identifier" in result.output
    repeat = pd.concat([frame, frame.iloc[[3]]])
    repeat.to_csv(tmp_path / "repeat.csv", index=False)
    result = runner.invoke(
        app, ["cohort", "import", str(tmp_path / "repeat.csv"), "--name", "r", "--id-column", "hospital_no"]
    )
    assert result.exit_code == 2 and "row 121 repeats the identifier 'MRN-000004' of row 4" in result.output


def test_pins_by_original_id_are_never_stored_or_printed(records: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "north"]).exit_code == 0
    scenario = write_scenario(
        tmp_path,
        """extends = "baseline.toml"
name = "pinned"
[cohort]
source = "workspace"
table = "north"
[pins]
"MRN-000007" = "home"
"MRN-000011" = "clinic"
""",
    )
    solved = runner.invoke(app, ["solve", str(scenario), "--json"])
    assert solved.exit_code == 0, solved.output
    shown = runner.invoke(app, ["runs", "show", "1", "--json"])
    assert shown.exit_code == 0, shown.output
    for text in (solved.output, shown.output, _database_text(tmp_path / "workspace")):
        assert "MRN-0000" not in text


def test_files_are_owner_only_and_the_key_can_live_apart(
    records: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPTALLOC_PSEUDONYM_KEY")
    key = tmp_path / "elsewhere" / "key.txt"
    key.parent.mkdir()
    key.write_text("a-key-kept-by-the-information-governance-team\n")
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY_FILE", str(key))
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "north"]).exit_code == 0
    workspace = tmp_path / "workspace"
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert stat.S_IMODE((workspace / "workspace.db").stat().st_mode) == 0o600
    assert not (workspace / "pseudonym.key").exists()  # the key stayed apart
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY_FILE", str(tmp_path / "missing.key"))
    result = runner.invoke(app, ["cohort", "import", str(records), "--name", "west"])
    assert result.exit_code == 2 and "no such key file" in result.output
    monkeypatch.delenv("OPTALLOC_PSEUDONYM_KEY_FILE")
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "east"]).exit_code == 0
    assert stat.S_IMODE((workspace / "pseudonym.key").stat().st_mode) == 0o600


def test_reveal_joins_a_plan_back_with_the_key_only(
    records: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "north"]).exit_code == 0
    scenario = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "n"\n[cohort]\nsource = "workspace"\ntable = "north"\n'
    )
    plan = tmp_path / "plan.csv"
    assert runner.invoke(app, ["solve", str(scenario), "--out", str(plan)]).exit_code == 0
    assert "MRN-" not in plan.read_text()
    revealed = tmp_path / "revealed.csv"
    result = runner.invoke(app, ["reveal", str(plan), "--records", str(records), "--out", str(revealed)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(revealed, dtype=str)
    assert table["mrn"].str.startswith("MRN-").all() and len(table) == 120
    assert stat.S_IMODE(revealed.stat().st_mode) == 0o600
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY", "some-other-key")
    wrong = runner.invoke(app, ["reveal", str(plan), "--records", str(records), "--out", str(tmp_path / "x.csv")])
    assert wrong.exit_code == 2 and "key" in wrong.output


def test_cohort_delete(records: Path) -> None:
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "north"]).exit_code == 0
    assert runner.invoke(app, ["cohort", "delete", "north"]).exit_code == 0
    result = runner.invoke(app, ["cohort", "delete", "north"])
    assert result.exit_code == 2 and "no cohort named 'north'" in result.output


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, b"z" * 300, "cl\u00e9".encode()])
def test_pseudonyms_are_the_keyed_hmac_of_the_text(key: bytes) -> None:
    """The fast path computes HMAC-SHA256 itself: the same values as the standard library's,
    for short keys, a block-long one and ones longer than a block (hashed first)."""
    import hashlib
    import hmac

    values = ["MRN1", "", "p0123456789abcdef", "\u00e9l\u00e8ve", 42, None, 3.5, "x" * 200]
    expected = ["p" + hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:16] for v in values]
    assert list(pseudonymize(values, key)) == expected
    assert list(pseudonymize([], key)) == []


def test_pseudonym_codes_merge_spaces_and_keep_first_appearance_order() -> None:
    codes, pseudonyms = pseudonym_codes(pd.Series(["B7", " A1", "A1 ", "B7", None, "C3"]), b"k")
    assert list(codes) == [0, 1, 1, 0, 2, 3] and len(pseudonyms) == 4
    assert [pseudonyms[0], pseudonyms[1], pseudonyms[3]] == list(pseudonymize(["B7", "A1", "C3"], b"k"))
