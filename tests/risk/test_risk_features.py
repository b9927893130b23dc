"""Features: ICD-9 groups, Charlson (Quan), and history from earlier encounters only."""

from __future__ import annotations

import pandas as pd
import pytest

from optalloc.cohort.diabetes130 import MEDICATION_COLUMNS
from optalloc.domains.encounters import FEATURES, encounter_features
from optalloc.risk.charlson import charlson_index, icd9_group, normalize_icd9


def test_icd9_normalisation_and_groups() -> None:
    assert normalize_icd9("38") == "038"
    assert normalize_icd9("250.83") == "25083"
    assert normalize_icd9("V45") == "V45"
    assert normalize_icd9(None) is None
    cases = {
        "428": "circulatory",
        "785": "circulatory",
        "486": "respiratory",
        "786": "respiratory",
        "250.02": "diabetes",
        "820": "injury",
        "715": "musculoskeletal",
        "599": "genitourinary",
        "174": "neoplasms",
        "535": "digestive",
        "V57": "other",
        "780": "other",
        None: "missing",
    }
    for code, group in cases.items():
        assert icd9_group(code) == group, code


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("410", "428", "250"), 1 + 1 + 1),  # MI, heart failure, diabetes
        (("250.4", "250", "585"), 2 + 2),  # complicated diabetes replaces plain; renal
        (("197", "174", None), 6),  # metastasis replaces malignancy
        (("403", "403.91", "496"), 2 + 1),  # 403 alone is too coarse; 403.91 is renal
        (("572.3", "571", "042"), 3 + 6),  # severe liver replaces mild; HIV
        (("V57", "780", "8"), 0),
    ],
)
def test_charlson_hand_computed(codes: tuple, expected: int) -> None:
    frame = pd.DataFrame([codes], columns=["diag_1", "diag_2", "diag_3"]).astype(object)
    assert int(charlson_index(frame).iloc[0]) == expected


def _encounters(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    """Tiny loaded-encounter table: (patient, order, readmitted) plus neutral clinical values."""
    base = {
        "race": "Caucasian",
        "gender": "Female",
        "age": "[60-70)",
        "admission_type_id": 1,
        "discharge_disposition_id": 1,
        "admission_source_id": 7,
        "medical_specialty": None,
        "payer_code": None,
        "max_glu_serum": "None",
        "A1Cresult": "None",
        "change": "No",
        "diabetesMed": "Yes",
        "diag_1": "428",
        "diag_2": "250",
        "diag_3": "401",
        "time_in_hospital": 3,
        "num_lab_procedures": 40,
        "num_procedures": 1,
        "num_medications": 12,
        "number_outpatient": 0,
        "number_emergency": 0,
        "number_inpatient": 0,
        "number_diagnoses": 6,
    }
    records = []
    for patient, order, readmitted in rows:
        record = dict(base, patient_id=patient, encounter_order=order, readmitted=readmitted)
        record.update(dict.fromkeys(MEDICATION_COLUMNS, "No"))
        records.append(record)
    frame = pd.DataFrame(records)
    frame["readmitted_30d"] = frame["readmitted"].eq("<30")
    return frame


def test_history_uses_earlier_encounters_only() -> None:
    # rows deliberately not in time order: history must follow encounter_order, not row order
    frame = _encounters(
        [
            ("pA", 30, "NO"),
            ("pA", 10, "<30"),
            ("pB", 15, ">30"),
            ("pA", 20, ">30"),
            ("pA", 40, "<30"),
        ]
    )
    feats = encounter_features(frame)
    assert list(feats.columns) == list(FEATURES)
    a = feats.assign(order=frame["encounter_order"], patient=frame["patient_id"])
    a = a[a["patient"] == "pA"].set_index("order")
    assert a.loc[[10, 20, 30, 40], "prior_encounters"].tolist() == [0, 1, 2, 3]
    assert a.loc[[10, 20, 30, 40], "prior_readmissions_30d"].tolist() == [0, 1, 1, 1]
    assert a.loc[[10, 20, 30, 40], "prior_readmissions_any"].tolist() == [0, 1, 2, 2]
    assert a.loc[[10, 20, 30, 40], "previous_readmitted_30d"].tolist() == [0, 1, 0, 0]
    assert a.loc[10, "prior_days_in_hospital"] == 0 and a.loc[40, "prior_days_in_hospital"] == 9
    b = feats[frame["patient_id"].eq("pB").to_numpy()]
    assert b["prior_encounters"].iloc[0] == 0 and b["prior_readmissions_any"].iloc[0] == 0

    # changing the outcome of the LAST encounter must not change any feature of any row,
    # and changing a middle outcome changes only that patient's later rows
    last = frame.copy()
    last.loc[last["encounter_order"] == 40, "readmitted"] = "NO"
    pd.testing.assert_frame_equal(encounter_features(last), feats)
    middle = frame.copy()
    middle.loc[middle["encounter_order"] == 20, "readmitted"] = "<30"
    changed = (encounter_features(middle) != feats).any(axis=1)
    assert set(frame.loc[changed, "encounter_order"]) <= {30, 40}
    assert changed.any()


def test_features_without_outcome_column() -> None:
    frame = _encounters([("pA", 1, "NO"), ("pA", 2, "<30")]).drop(columns=["readmitted", "readmitted_30d"])
    feats = encounter_features(frame)
    assert feats["prior_readmissions_30d"].eq(0).all()
    assert feats["prior_encounters"].tolist() == [0, 1]
