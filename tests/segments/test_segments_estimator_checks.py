"""scikit-learn's own estimator checks on the segmentation estimators.

Run through :func:`sklearn.utils.estimator_checks.parametrize_with_checks` with small settings
so the whole file stays fast; checks an estimator cannot pass by design are listed with the
reason in ``expected_failed_checks``.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from optalloc.segments import CohortFeatures, ConsensusClustering
from optalloc.segments.mixture import MixedMixture

ESTIMATORS = [
    ConsensusClustering(n_clusters=3, n_base=3, sample_size=50, n_null=1, mixture_criteria=False, random_state=0),
    MixedMixture(n_components=3, n_init=1, max_iter=20, random_state=0),
    CohortFeatures(numeric=[], categorical=[]),
]


# CohortFeatures encodes a cohort *table*: it selects named clinical columns (numeric, flag,
# categorical) from a DataFrame, so every check that feeds it a bare numpy or sparse array, or a
# list, fails at the column lookup. Its parameter handling (get_params, clone, default
# construction, no attributes set in __init__) passes the checks that do not fit on arrays, and
# it refuses a 1-d input as every fit without feature columns (check_fit1d).
NEEDS_TABLE = "takes a DataFrame with named clinical columns; the check passes a bare array"
COHORT_FEATURES_FAILS = dict.fromkeys(
    (
        "check_complex_data",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_empty_data_messages",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
    ),
    NEEDS_TABLE,
) | dict.fromkeys(
    ("check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag"),
    "a cohort table is dense; the check passes a sparse matrix where a DataFrame is needed",
)


def expected_failures(estimator: BaseEstimator) -> dict[str, str]:
    """Checks an estimator cannot pass by design, with the reason (none for the clusterers)."""
    return COHORT_FEATURES_FAILS if isinstance(estimator, CohortFeatures) else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_conventions(estimator: BaseEstimator, check: object) -> None:
    check(estimator)  # type: ignore[operator]
