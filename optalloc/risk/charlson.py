"""ICD-9-CM diagnosis groups and the Charlson comorbidity index (Quan et al. 2005 coding).

The Diabetes 130 data hold three diagnoses per encounter with the leading zeros dropped
(``38`` is 038, ``8`` is 008) and three to five digits (``250``, ``250.8``, ``250.83``). Codes are
normalised to the digit string without the dot (``"038"``, ``"2508"``, ``"25083"``) and matched by
prefix, so a condition defined at four or five digits (e.g. renal disease 403.01) is only found
when the data carry that many digits: the index is as complete as the coding allows, never
guessed from a shorter code.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

# Strack et al. (2014), Table 2: diagnosis groups by ICD-9 range. "other" collects V and E codes
# and every remaining range; a missing diagnosis is kept apart as "missing".
ICD9_GROUPS: tuple[str, ...] = (
    "circulatory",
    "respiratory",
    "digestive",
    "diabetes",
    "injury",
    "musculoskeletal",
    "genitourinary",
    "neoplasms",
    "other",
    "missing",
)


def normalize_icd9(code: object) -> str | None:
    """``"250.83"`` -> ``"25083"``, ``"38"`` -> ``"038"``, ``"V45.1"`` -> ``"V451"``; missing -> None."""
    if code is None or (isinstance(code, float) and np.isnan(code)) or code is pd.NA:
        return None
    text = str(code).strip().upper()
    if not text or text == "?":
        return None
    head, _, tail = text.partition(".")
    if head.isdigit():
        head = head.zfill(3)
    elif head[:1] == "E" and head[1:].isdigit():
        head = "E" + head[1:].zfill(3)
    elif head[:1] == "V" and head[1:].isdigit():
        head = "V" + head[1:].zfill(2)
    return head + tail


def icd9_group(code: object) -> str:
    """The Strack et al. diagnosis group of one ICD-9 code (see :data:`ICD9_GROUPS`)."""
    norm = normalize_icd9(code)
    if norm is None:
        return "missing"
    if not norm[:3].isdigit():
        return "other"
    major = int(norm[:3])
    if norm.startswith("250"):
        return "diabetes"
    if 390 <= major <= 459 or major == 785:
        return "circulatory"
    if 460 <= major <= 519 or major == 786:
        return "respiratory"
    if 520 <= major <= 579 or major == 787:
        return "digestive"
    if 800 <= major <= 999:
        return "injury"
    if 710 <= major <= 739:
        return "musculoskeletal"
    if 580 <= major <= 629 or major == 788:
        return "genitourinary"
    if 140 <= major <= 239:
        return "neoplasms"
    return "other"


def _span(low: int, high: int, width: int = 3) -> list[str]:
    return [str(n).zfill(width) for n in range(low, high + 1)]


# Quan H. et al. (2005) Med Care 43:1130, enhanced ICD-9-CM coding of the Charlson conditions,
# with Charlson's original weights (the ones LACE uses). Prefixes are normalised codes.
CHARLSON_CONDITIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "myocardial_infarction": (1, ("410", "412")),
    "heart_failure": (
        1,
        (
            "39891",
            "40201",
            "40211",
            "40291",
            "40401",
            "40403",
            "40411",
            "40413",
            "40491",
            "40493",
            *_span(4254, 4259, 4),
            "428",
        ),
    ),
    "peripheral_vascular": (1, ("0930", "4373", "440", "441", *_span(4431, 4439, 4), "4471", "5571", "5579", "V434")),
    "cerebrovascular": (1, ("36234", *_span(430, 438))),
    "dementia": (1, ("290", "2941", "3312")),
    "chronic_pulmonary": (1, ("4168", "4169", *_span(490, 505), "5064", "5081", "5088")),
    "rheumatic": (1, ("4465", *_span(7100, 7104, 4), "7140", "7141", "7142", "7148", "725")),
    "peptic_ulcer": (1, ("531", "532", "533", "534")),
    "mild_liver": (
        1,
        (
            "07022",
            "07023",
            "07032",
            "07033",
            "07044",
            "07054",
            "0706",
            "0709",
            "570",
            "571",
            "5733",
            "5734",
            "5738",
            "5739",
            "V427",
        ),
    ),
    # Every 250.x counts as diabetes; the complicated forms (250.4-250.7) replace it below.
    "diabetes": (1, ("250",)),
    "diabetes_complicated": (2, ("2504", "2505", "2506", "2507")),
    "hemiplegia": (2, ("3341", "342", "343", *_span(3440, 3446, 4), "3449")),
    "renal": (
        2,
        (
            "40301",
            "40311",
            "40391",
            "40402",
            "40403",
            "40412",
            "40413",
            "40492",
            "40493",
            "582",
            *_span(5830, 5837, 4),
            "585",
            "586",
            "5880",
            "V420",
            "V451",
            "V56",
        ),
    ),
    "malignancy": (2, (*_span(140, 172), *_span(174, 194), *_span(1950, 1958, 4), *_span(200, 208), "2386")),
    "severe_liver": (3, ("4560", "4561", "4562", *_span(5722, 5728, 4))),
    "metastatic": (6, ("196", "197", "198", "199")),
    "hiv_aids": (6, ("042", "043", "044")),
}
# A more severe form replaces the milder one, as in Quan's and Charlson's scoring.
CHARLSON_HIERARCHY: tuple[tuple[str, str], ...] = (
    ("diabetes_complicated", "diabetes"),
    ("severe_liver", "mild_liver"),
    ("metastatic", "malignancy"),
)
CONDITION_NAMES: tuple[str, ...] = tuple(CHARLSON_CONDITIONS)


def charlson_conditions(code: object) -> frozenset[str]:
    """The Charlson conditions one ICD-9 code indicates (usually none or one)."""
    norm = normalize_icd9(code)
    if norm is None:
        return frozenset()
    return frozenset(
        name
        for name, (_, prefixes) in CHARLSON_CONDITIONS.items()
        if any(norm.startswith(prefix) for prefix in prefixes)
    )


def charlson_matrix(diagnoses: pd.DataFrame) -> pd.DataFrame:
    """Boolean encounter x condition table from the diagnosis columns, hierarchy applied.

    Each distinct code is classified once (about 900 in the Diabetes 130 data), so the table for
    80,000 encounters takes well under a second.
    """
    flags = pd.DataFrame(False, index=diagnoses.index, columns=list(CONDITION_NAMES))
    for column in diagnoses.columns:
        values = diagnoses[column].astype(object)
        lookup = {code: charlson_conditions(code) for code in pd.unique(values)}
        found = values.map(lookup)
        for name in CONDITION_NAMES:
            flags[name] |= found.map(lambda conditions, n=name: n in conditions).to_numpy(dtype=bool)
    for severe, mild in CHARLSON_HIERARCHY:
        flags.loc[flags[severe], mild] = False
    return flags


def charlson_index(diagnoses: pd.DataFrame) -> pd.Series:
    """Charlson comorbidity index (original weights) of each row of diagnosis codes."""
    flags = charlson_matrix(diagnoses)
    weights = np.array([CHARLSON_CONDITIONS[name][0] for name in CONDITION_NAMES])
    return pd.Series(flags.to_numpy(dtype=int) @ weights, index=diagnoses.index, name="charlson")


def icd9_groups(codes: Iterable[object]) -> np.ndarray:
    """:func:`icd9_group` of each code, each distinct code looked up once (a column repeats few)."""
    values = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes, dtype=object)
    values = values.where(values.notna(), None)
    lookup = {code: icd9_group(code) for code in pd.unique(values)}
    return values.map(lookup).to_numpy(dtype=object)


# --- ICD-10 -------------------------------------------------------------------------------
# Quan H. et al. (2005) Med Care 43:1130, ICD-10 coding of the Charlson conditions, as prefixes
# of the code without its dot; ICD-10-CM's E08/E09 diabetes categories count as E13 does.
def _span10(letter: str, low: int, high: int, width: int = 2) -> list[str]:
    return [f"{letter}{str(n).zfill(width)}" for n in range(low, high + 1)]


def _diabetes10(fourth: str) -> list[str]:
    return [f"E{cat}{d}" for cat in ("08", "09", "10", "11", "12", "13", "14") for d in fourth]


CHARLSON_CONDITIONS_ICD10: dict[str, tuple[str, ...]] = {
    "myocardial_infarction": ("I21", "I22", "I252"),
    "heart_failure": ("I099", "I110", "I130", "I132", "I255", "I420", *_span10("I42", 5, 9, 1), "I43", "I50", "P290"),
    "peripheral_vascular": (
        "I70",
        "I71",
        "I731",
        "I738",
        "I739",
        "I771",
        "I790",
        "I792",
        "K551",
        "K558",
        "K559",
        "Z958",
        "Z959",
    ),
    "cerebrovascular": ("G45", "G46", "H340", *_span10("I", 60, 69)),
    "dementia": ("F00", "F01", "F02", "F03", "F051", "G30", "G311"),
    "chronic_pulmonary": ("I278", "I279", *_span10("J", 40, 47), *_span10("J", 60, 67), "J684", "J701", "J703"),
    "rheumatic": ("M05", "M06", "M315", "M32", "M33", "M34", "M351", "M353", "M360"),
    "peptic_ulcer": ("K25", "K26", "K27", "K28"),
    "mild_liver": (
        "B18",
        "K700",
        "K701",
        "K702",
        "K703",
        "K709",
        "K713",
        "K714",
        "K715",
        "K717",
        "K73",
        "K74",
        "K760",
        "K762",
        "K763",
        "K764",
        "K768",
        "K769",
        "Z944",
    ),
    "diabetes": tuple(_diabetes10("01689")),
    "diabetes_complicated": tuple(_diabetes10("23457")),
    "hemiplegia": ("G041", "G114", "G801", "G802", "G81", "G82", "G830", "G831", "G832", "G833", "G834", "G839"),
    "renal": (
        "I120",
        "I131",
        *_span10("N03", 2, 7, 1),
        *_span10("N05", 2, 7, 1),
        "N18",
        "N19",
        "N250",
        "Z490",
        "Z491",
        "Z492",
        "Z940",
        "Z992",
    ),
    "malignancy": (
        *_span10("C", 0, 26),
        *_span10("C", 30, 34),
        *_span10("C", 37, 41),
        "C43",
        *_span10("C", 45, 58),
        *_span10("C", 60, 76),
        *_span10("C", 81, 85),
        "C88",
        *_span10("C", 90, 97),
    ),
    "severe_liver": ("I850", "I859", "I864", "I982", "K704", "K711", "K721", "K729", "K765", "K766", "K767"),
    "metastatic": ("C77", "C78", "C79", "C80"),
    "hiv_aids": ("B20", "B21", "B22", "B24"),
}


def normalize_icd10(code: object) -> str | None:
    """``"I50.9"`` -> ``"I509"``; missing -> None."""
    if code is None or code is pd.NA or (isinstance(code, float) and np.isnan(code)):
        return None
    text = str(code).strip().upper().replace(".", "")
    return text or None


def icd10_group(code: object) -> str:
    """The same diagnosis groups as :func:`icd9_group`, by ICD-10 chapter."""
    norm = normalize_icd10(code)
    if norm is None:
        return "missing"
    letter, digits = norm[:1], norm[1:3]
    number = int(digits) if digits.isdigit() else -1
    if letter == "E" and 8 <= number <= 13:
        return "diabetes"
    if letter == "I":
        return "circulatory"
    if letter == "J":
        return "respiratory"
    if letter == "K":
        return "digestive"
    if letter in ("S", "T"):
        return "injury"
    if letter == "M":
        return "musculoskeletal"
    if letter == "N":
        return "genitourinary"
    if letter == "C" or (letter == "D" and number <= 49):
        return "neoplasms"
    return "other"


def tagged_conditions(tagged: str) -> frozenset[str]:
    """Charlson conditions of one ``ICD9CM:428.0`` / ``ICD10CM:I50.9`` code."""
    vocabulary, _, code = tagged.partition(":")
    if vocabulary.startswith("ICD9"):
        return charlson_conditions(code)
    norm = normalize_icd10(code)
    if norm is None:
        return frozenset()
    return frozenset(
        name for name, prefixes in CHARLSON_CONDITIONS_ICD10.items() if any(norm.startswith(p) for p in prefixes)
    )


def tagged_group(tagged: str) -> str:
    vocabulary, _, code = tagged.partition(":")
    return icd9_group(code) if vocabulary.startswith("ICD9") else icd10_group(code)


def tagged_features(codes: pd.Series) -> pd.DataFrame:
    """Charlson index and diagnosis-group counts of ``;``-joined tagged codes (one cell per stay).

    Each distinct code is classified once; the hierarchy (complicated diabetes over diabetes,
    severe over mild liver disease, metastatic over any malignancy) applies per stay.
    """
    cells = codes.fillna("").astype(str).str.split(";")
    distinct = {c for cell in cells for c in cell if c}
    conditions = {c: tagged_conditions(c) for c in distinct}
    groups = {c: tagged_group(c) for c in distinct}
    weights = {name: weight for name, (weight, _) in CHARLSON_CONDITIONS.items()}
    charlson: list[int] = []
    counts: dict[str, list[int]] = {g: [] for g in ICD9_GROUPS if g != "missing"}
    for cell in cells:
        found = set().union(*(conditions[c] for c in cell if c)) if any(cell) else set()
        for severe, mild in CHARLSON_HIERARCHY:
            if severe in found:
                found.discard(mild)
        charlson.append(sum(weights[n] for n in found))
        cell_groups = [groups[c] for c in cell if c]
        for group in counts:
            counts[group].append(cell_groups.count(group))
    frame = pd.DataFrame({f"n_dx_{g}": v for g, v in counts.items()}, index=codes.index)
    frame.insert(0, "charlson", charlson)
    return frame
