"""scikit-learn's own estimator checks, run on FeatureLayout.

``parametrize_with_checks`` turns every check scikit-learn applies to a transformer (cloning,
get/set_params, pickling, fit idempotence, NaN/inf and empty-input errors, dtype handling,
sample-order and subset invariance of ``transform``, ...) into a pytest test of its own.

Most of those checks build their data with 2 or 3 columns, and ``FeatureLayout.fit`` refuses
fewer than 4 features by design (a layout of a handful of features is meaningless), so on the
real class they stop at that ValueError and would exercise nothing else. The checks therefore
run twice:

* ``test_feature_layout_estimator_checks``: the real ``FeatureLayout``. The checks that fit on
  fewer than 4 features are expected to fail for that reason alone.
* ``test_feature_layout_checks_without_feature_floor``: ``_AnyWidthLayout``, a subclass that only
  accepts the 2- and 3-feature matrices the real class refuses (everything else, validation
  included, is FeatureLayout's own code), so that those checks do run the fitting and transform
  code. Here just the checks that cannot pass by design or that expect scikit-learn's exact error
  wording are expected to fail.

Why the remaining checks fail (each seen failing, for the reason given):

* ``check_transformer_preserve_dtypes``: ``transform`` always returns float32 images (documented);
  the default ``preserves_dtype`` tag claims float64 input stays float64.
* ``check_n_features_in_after_fitting``: ``transform`` does reject X with the wrong number of
  features, but its message is not scikit-learn's exact "X has 1 features, but FeatureLayout is
  expecting 4 features as input".
* ``check_fit2d_1feature``: a 1-feature X is refused with a ValueError, but its message lacks the
  wording scikit-learn matches ("1 feature(s)", "n_features=1").

``transform`` returning (n, H, W) images rather than a 2-D matrix does not itself fail any check
in this scikit-learn version: the transformer checks only compare outputs and their first axis.
The expected failures are strict: a listed check that starts passing fails the test, so the list
stays true. Settings are small (PCA embedding, 6 x 6 grid, one thread); the subclass also runs
with assignment discretization and with t-SNE (the default method) for a few iterations.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_array

from core.layout import FeatureLayout

FAST = {"pixels": 6, "reduce_dim": None, "n_jobs": 1, "random_state": 0}
SETTINGS = [
    {"method": "pca"},
    {"method": "pca", "discretization": "assignment", "scaler": "minmax"},
    {"method": "tsne", "n_iter": 10, "early_exaggeration_iter": 5, "scaler": "norm2"},
]


def _too_few(n_features: int) -> str:
    return f"fit needs at least 4 features (columns) and this check fits on {n_features}"


N_FEATURES_MESSAGE = (
    "transform rejects X with the wrong number of features, but its message ('X has 1 features but this layout "
    "was fitted on 4; ...') is not sklearn's exact 'X has 1 features, but FeatureLayout is expecting 4 features'"
)
FLOAT32_IMAGES = "transform always returns float32 images, while the default preserves_dtype tag claims float64"

# Seen failing on the real class: every one of these stops at "X needs at least 4 features".
FEATURE_FLOOR_FAILURES = {
    "check_fit_score_takes_y": _too_few(3),
    "check_estimators_overwrite_params": _too_few(2),
    "check_dont_overwrite_parameters": _too_few(3),
    "check_estimators_fit_returns_self": _too_few(2),
    "check_readonly_memmap_input": _too_few(2),
    "check_pipeline_consistency": _too_few(3),
    "check_estimators_nan_inf": _too_few(3),
    "check_estimators_pickle": _too_few(3),
    "check_f_contiguous_array_estimator": _too_few(3),
    "check_transformer_data_not_an_array": _too_few(3),
    "check_transformer_general": _too_few(3),
    "check_transformer_preserve_dtypes": _too_few(3) + " (and " + FLOAT32_IMAGES + ")",
    "check_methods_sample_order_invariance": _too_few(3),
    "check_methods_subset_invariance": _too_few(3),
    "check_dict_unchanged": _too_few(3),
    "check_fit_idempotent": _too_few(2),
    "check_fit_check_is_fitted": _too_few(2),
    "check_n_features_in": _too_few(2),
    "check_fit2d_predict1d": _too_few(3),
    "check_fit2d_1feature": (
        "a 1-feature X is refused with a ValueError ('X needs at least 4 features (columns) to lay out, got 1'), "
        "but without the wording sklearn matches ('1 feature(s)', 'n_features=1')"
    ),
    "check_n_features_in_after_fitting": N_FEATURES_MESSAGE,
}

# Seen failing on _AnyWidthLayout, where the checks above otherwise pass.
WITHOUT_FLOOR_FAILURES = {
    "check_transformer_preserve_dtypes": FLOAT32_IMAGES,
    "check_n_features_in_after_fitting": N_FEATURES_MESSAGE,
    "check_fit2d_1feature": (
        "with the feature floor lifted a 1-feature X reaches the 2-D embedding, whose ValueError (PCA: "
        "'n_components=2 must be between 0 and ...=1'; t-SNE: 'Perplexity must be >=0') lacks sklearn's wording"
    ),
}


class _AnyWidthLayout(FeatureLayout):
    """FeatureLayout that also fits on 2 or 3 features, so that scikit-learn's small test matrices get past fit."""

    def _check_X(self, X, *, fitting):
        try:
            return super()._check_X(X, fitting=fitting)
        except ValueError as error:
            if not (fitting and "at least 4 features" in str(error)):
                raise
            return check_array(X, dtype=(np.float64, np.float32), ensure_min_samples=2)


# One setting is enough for the real class: past the 4-feature floor, its checks barely fit, and each expected
# failure costs pytest about a quarter of a second to format.
@parametrize_with_checks(
    [FeatureLayout(**FAST, **SETTINGS[0])],
    expected_failed_checks=lambda estimator: FEATURE_FLOOR_FAILURES,
    xfail_strict=True,
)
def test_feature_layout_estimator_checks(estimator, check):
    check(estimator)


@parametrize_with_checks(
    [_AnyWidthLayout(**FAST, **settings) for settings in SETTINGS],
    expected_failed_checks=lambda estimator: WITHOUT_FLOOR_FAILURES,
    xfail_strict=True,
)
def test_feature_layout_checks_without_feature_floor(estimator, check):
    check(estimator)
