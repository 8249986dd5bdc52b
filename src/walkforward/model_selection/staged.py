"""Tree ensembles on a cached fold: one model per group of combinations scores every round count.

A booster's first ``k`` rounds, and a random forest's first ``k`` trees, are exactly the model a fit
with ``k`` rounds builds: with the same seed the random draws of round ``i`` (bagged rows, sampled
columns, a tree's bootstrap) do not depend on how many rounds follow. So combinations that differ only
in the spec's ``rounds_param`` are trained once, to their largest count, and each smaller count is
scored from staged predictions (LightGBM ``num_iteration``, XGBoost ``iteration_range``, the forest's
``estimators_[:k]``). The exceptions are models whose earlier rounds change later (DART rescales the
trees it drops): their evaluators keep one fit per count.

The routes here (random forests; LightGBM and XGBoost on training rows binned once per fold) and the
generic one (:func:`fit_each`) are the evaluators :mod:`walkforward.model_selection.evaluators`
names; the boosters and scikit-learn are imported inside them (fast CLI start-up).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb
    import xgboost as xgb

    from walkforward.model_selection.evaluators import PreparedFold
    from walkforward.models.catalog import AlgorithmSpec

log = logging.getLogger(__name__)


#: The round count of a combination that is fitted on its own: score the whole model.
WHOLE = 0


@dataclass(frozen=True)
class RoundsGroup:
    """Combinations that differ only in their round count.

    ``params`` are the defaults overridden by the combination, with the round count set to the
    group's largest; ``members`` pairs each combination's position in the grid with its count
    (:data:`WHOLE` for a combination fitted on its own, whose model is scored whole).
    """

    params: dict[str, Any]
    members: tuple[tuple[int, int], ...]

    @property
    def rounds(self) -> tuple[int, ...]:
        """The distinct round counts to score, ascending."""
        return tuple(sorted({k for _, k in self.members}))


def group_by_rounds(
    spec: AlgorithmSpec,
    combos: Sequence[Mapping[str, Any]],
    shareable: Callable[[Mapping[str, Any]], bool] = lambda params: True,
) -> list[RoundsGroup]:
    """Group ``combos`` by every parameter but ``spec.rounds_param``, in order of first appearance.

    Each combination is validated (``spec.build``: unknown names and bad ranges refused). A
    combination whose parameters ``shareable`` rejects, or any combination of a spec without a
    ``rounds_param``, makes a group of its own.

    Examples
    --------
    >>> from walkforward.models.catalog import get_algorithm
    >>> groups = group_by_rounds(get_algorithm("lightgbm_regressor"), [{"n_estimators": n} for n in (50, 200)])
    >>> [(g.params["n_estimators"], g.members) for g in groups]
    [(200, ((0, 50), (1, 200)))]
    """
    name = spec.rounds_param
    groups: dict[str, tuple[dict[str, Any], list[tuple[int, int]]]] = {}
    for i, combo in enumerate(combos):
        spec.build(combo)
        params = spec.params(combo)
        if name is None or params.get(name) is None or not shareable(params):
            groups[f"#{i}"] = (params, [(i, WHOLE)])
            continue
        k = int(params[name])
        key = repr(sorted((p, v) for p, v in params.items() if p != name))
        group_params, members = groups.setdefault(key, (params, []))
        members.append((i, k))
        group_params[name] = max(int(group_params[name]), k)
    return [RoundsGroup(params, tuple(members)) for params, members in groups.values()]


def scatter(groups: Sequence[RoundsGroup], per_group: Sequence[Mapping[int, np.ndarray]], n: int) -> list[np.ndarray]:
    """Put each group's predictions by round count back in the combinations' order."""
    out: list[np.ndarray | None] = [None] * n
    for group, preds in zip(groups, per_group, strict=True):
        for i, k in group.members:
            out[i] = preds[k]
    assert all(o is not None for o in out), "every combination belongs to one group"
    return [o for o in out if o is not None]


# --- generic ------------------------------------------------------------------------------------------


def fit_each(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Build, fit and predict each combination (P(class 1) for classifiers): the route of any other model."""
    out = []
    for combo in combos:
        est = spec.build(combo).fit(fold.X_train, fold.y_train)
        if spec.is_classifier:
            proba = est.predict_proba(fold.X_test)
            out.append(np.asarray(proba[:, list(est.classes_).index(1)], dtype=np.float64))
        else:
            out.append(np.asarray(est.predict(fold.X_test), dtype=np.float64))
    return out


# --- random forests: the first k trees of one forest ---------------------------------------------------


def forest_rounds(forest: Any, X: np.ndarray, rounds: Sequence[int], classifier: bool) -> dict[int, np.ndarray]:  # noqa: N803
    """The forest's prediction from its first ``k`` trees, for each ``k`` in ``rounds``.

    The running sum adds the trees' predictions in the order ``ForestRegressor.predict`` /
    ``ForestClassifier.predict_proba`` accumulate them, and divides by ``k`` as they divide by the
    number of trees: with ``k`` equal to the forest's size this is the forest's own output. X is cast
    to float32 once, as the forest's input validation does.
    """
    X32 = np.ascontiguousarray(X, dtype=np.float32)  # noqa: N806
    n_all = len(forest.estimators_)
    wanted = {k or n_all for k in rounds}  # WHOLE: every tree
    column = list(forest.classes_).index(1) if classifier else None
    total = np.zeros(X32.shape[0], dtype=np.float64)
    by_size: dict[int, np.ndarray] = {}
    for n_trees, tree in enumerate(forest.estimators_[: max(wanted)], start=1):
        total += tree.predict(X32) if column is None else tree.predict_proba(X32)[:, column]
        if n_trees in wanted:
            by_size[n_trees] = total / n_trees
    return {k: by_size[k or n_all] for k in rounds}


def random_forest(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """One forest per group of combinations, grown to the largest ``n_estimators``; P(class 1) for classifiers."""
    groups = group_by_rounds(spec, combos)
    per_group = []
    for group in groups:
        forest = spec.factory(**group.params).fit(fold.X_train, fold.y_train)
        per_group.append(forest_rounds(forest, fold.X_test, group.rounds, spec.is_classifier))
    return scatter(groups, per_group, len(combos))


# --- LightGBM: bin once, train many ---------------------------------------------------------------------

# scikit-learn API name -> LightGBM's own name (what LGBMModel passes as an alias, resolved natively).
_LGBM_NATIVE = {
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "learning_rate": "learning_rate",
    "min_child_samples": "min_data_in_leaf",
    "min_child_weight": "min_sum_hessian_in_leaf",
    "min_split_gain": "min_gain_to_split",
    "reg_alpha": "lambda_l1",
    "reg_lambda": "lambda_l2",
    "subsample": "bagging_fraction",
    "subsample_freq": "bagging_freq",
    "colsample_bytree": "feature_fraction",
    "subsample_for_bin": "bin_construct_sample_cnt",
    "random_state": "seed",
    "n_jobs": "num_threads",
    "verbosity": "verbose",
    "boosting_type": "boosting",
}
# Wrapper-only names with no effect on a plain fit (class_weight does have one: such combinations take
# the generic route).
_LGBM_WRAPPER_ONLY = frozenset({"importance_type", "n_estimators", "class_weight"})
# Parameters read when the Dataset is built (binning); seed sets data_random_seed. A Dataset is shared
# only by combinations that agree on all of them: LightGBM silently rebuilds a Dataset whose
# construction parameters a training call changes.
_LGBM_DATASET = frozenset(
    {
        "max_bin",
        "max_bin_by_feature",
        "min_data_in_bin",
        "bin_construct_sample_cnt",
        "data_random_seed",
        "seed",
        "use_missing",
        "zero_as_missing",
        "enable_bundle",
        "is_enable_sparse",
        "linear_tree",
        "categorical_feature",
        "forcedbins_filename",
        "precise_float_parser",
    }
)


def _lgbm_threads(n_jobs: Any) -> int:
    # LGBMModel's convention (joblib's): None -> physical cores, negative -> all cores + 1 + n_jobs.
    import joblib

    if n_jobs is None:
        return int(joblib.cpu_count(only_physical_cores=True))
    n = int(n_jobs)
    return max(int(joblib.cpu_count()) + 1 + n, 1) if n < 0 else n


def lgbm_native(params: Mapping[str, Any], classifier: bool) -> tuple[dict[str, Any], int]:
    """LightGBM's native parameters and the number of rounds for one combination."""
    native: dict[str, Any] = {"objective": "binary" if classifier else "regression"}
    explicit: dict[str, Any] = {}
    for k, v in params.items():
        if k in _LGBM_WRAPPER_ONLY:
            continue
        if k in _LGBM_NATIVE:
            native[_LGBM_NATIVE[k]] = _lgbm_threads(v) if k == "n_jobs" else v
        else:
            explicit[k] = v  # already a native name (min_data_in_leaf, lambda_l1, ...)
    # LightGBM prefers a main name over its aliases, so an explicit native name wins over a mapped one.
    native.update(explicit)
    native.setdefault("num_threads", _lgbm_threads(None))
    return {k: v for k, v in native.items() if v is not None}, int(params.get("n_estimators", 100))


def _samples_features(native: Mapping[str, Any]) -> bool:
    fractions = (native.get("feature_fraction", 1.0), native.get("feature_fraction_bynode", 1.0))
    return any(float(f) < 1.0 for f in fractions) or bool(native.get("extra_trees", False))


def lgbm_dataset_params(native: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a ``lightgbm.Dataset`` is built with: combinations that agree on them share it."""
    ds_params = {k: v for k, v in native.items() if k in _LGBM_DATASET}
    # feature_pre_filter=False lets combinations with different min_data_in_leaf share a Dataset: an
    # unsplittable feature stays in it but is never chosen. Random feature sampling draws from the
    # features the Dataset holds, though, so those combinations pre-filter exactly as LGBMModel does
    # (measured: colsample_bytree=0.5 with one unsplittable column moved predictions by 0.3 otherwise).
    if _samples_features(native):
        ds_params.update(feature_pre_filter=True, min_data_in_leaf=native.get("min_data_in_leaf", 20))
    else:
        ds_params["feature_pre_filter"] = False
    return ds_params


def lgbm_shareable(params: Mapping[str, Any]) -> bool:
    # DART rescales the trees it drops and "rf" averages its trees: their first k rounds are not a
    # k-round model. class_weight takes the generic route, one fit per combination.
    return params.get("boosting_type", "gbdt") == "gbdt" and params.get("class_weight") is None


def lightgbm_binned(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Train each group of combinations once, on one binned ``lightgbm.Dataset`` per set of binning parameters.

    A group holds the combinations that differ only in ``n_estimators``: one booster is trained to the
    largest count and each count is scored with ``predict(num_iteration=k)``.
    """
    import lightgbm as lgb

    datasets: dict[tuple[tuple[str, Any], ...], lgb.Dataset] = {}
    groups = group_by_rounds(spec, combos, lgbm_shareable)
    per_group: list[dict[int, np.ndarray]] = []
    for group in groups:
        params = group.params
        if params.get("class_weight") is not None:
            per_group.append({WHOLE: fit_each(spec, [params], fold)[0]})
            continue
        native, rounds = lgbm_native(params, spec.is_classifier)
        ds_params = lgbm_dataset_params(native)
        key = tuple(sorted(ds_params.items()))
        if key not in datasets:
            ds_params.update(verbose=-1, num_threads=native["num_threads"])
            datasets[key] = lgb.Dataset(
                fold.X_train, label=fold.y_train, params=ds_params, free_raw_data=False
            ).construct()
        booster = lgb.train(native, datasets[key], num_boost_round=rounds)
        # For objective "binary" predict() is already P(class 1), as LGBMClassifier.predict_proba's column 1;
        # num_iteration=0 (WHOLE) is every round.
        per_group.append(
            {k: np.asarray(booster.predict(fold.X_test, num_iteration=k), dtype=np.float64) for k in group.rounds}
        )
    log.debug(
        "lightgbm: %d combination(s), %d booster(s), %d Dataset(s), fold %d",
        len(combos), len(groups), len(datasets), fold.number,
    )  # fmt: skip
    return scatter(groups, per_group, len(combos))


# --- XGBoost: one QuantileDMatrix per fold ---------------------------------------------------------------

_XGB_NATIVE = {
    "learning_rate": "eta",
    "reg_alpha": "alpha",
    "reg_lambda": "lambda",
    "random_state": "seed",
    "n_jobs": "nthread",
    "gamma": "gamma",
}
# XGBModel keeps these out of the learner's parameters (missing and max_bin also shape the DMatrix).
_XGB_WRAPPER_ONLY = frozenset(
    {
        "n_estimators",
        "importance_type",
        "missing",
        "enable_categorical",
        "feature_types",
        "feature_weights",
        "early_stopping_rounds",
        "callbacks",
        "kwargs",
    }
)
_XGB_QDM_METHODS = frozenset({None, "hist", "auto"})


def xgb_native_route(params: Mapping[str, Any]) -> bool:
    """Whether the combination trains on a shared ``QuantileDMatrix`` (else: the generic route)."""
    if params.get("tree_method") not in _XGB_QDM_METHODS or params.get("booster") == "gblinear":
        return False
    return all(params.get(k) is None for k in ("feature_types", "feature_weights", "callbacks"))


def xgb_shareable(params: Mapping[str, Any]) -> bool:
    # DART rescales the trees it drops: its first k rounds are not a k-round model.
    return xgb_native_route(params) and params.get("booster") != "dart"


def xgb_native(params: Mapping[str, Any], classifier: bool) -> dict[str, Any]:
    """XGBoost's native learner parameters for one combination (as XGBModel passes them to ``train``)."""
    native: dict[str, Any] = {"objective": "binary:logistic" if classifier else "reg:squarederror"}
    explicit = {}
    for k, v in params.items():
        if k in _XGB_WRAPPER_ONLY or v is None:
            continue
        if k in _XGB_NATIVE:
            native[_XGB_NATIVE[k]] = v
        else:
            explicit[k] = v
    native.update(explicit)
    return native


def xgboost_binned(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Train each group of combinations once, on one ``QuantileDMatrix`` per (max_bin, missing, nthread).

    A group holds the combinations that differ only in ``n_estimators``: one booster is trained to the
    largest count and each count is scored with ``inplace_predict(iteration_range=(0, k))``.
    """
    import xgboost as xgb

    matrices: dict[tuple[Any, ...], xgb.QuantileDMatrix] = {}
    groups = group_by_rounds(spec, combos, xgb_shareable)
    per_group: list[dict[int, np.ndarray]] = []
    for group in groups:
        params = group.params
        if not xgb_native_route(params):
            per_group.append({WHOLE: fit_each(spec, [params], fold)[0]})
            continue
        native = xgb_native(params, spec.is_classifier)
        missing = params.get("missing", np.nan)
        max_bin, nthread = native.get("max_bin"), native.get("nthread")
        key = (max_bin, nthread, "nan" if missing is None or math.isnan(missing) else float(missing))
        if key not in matrices:
            # nthread as XGBModel passes it: the quantile sketch is merged per thread.
            matrices[key] = xgb.QuantileDMatrix(
                fold.X_train, label=fold.y_train, max_bin=max_bin, nthread=nthread, missing=missing
            )
        booster = xgb.train(native, matrices[key], num_boost_round=int(params.get("n_estimators") or 100))
        # inplace_predict is XGBModel.predict's own route; binary:logistic yields P(class 1); the range
        # (0, 0) of WHOLE is every round.
        per_group.append(
            {
                k: np.asarray(booster.inplace_predict(fold.X_test, iteration_range=(0, k), missing=missing), np.float64)
                for k in group.rounds
            }
        )
    log.debug(
        "xgboost: %d combination(s), %d booster(s), %d matrix(es), fold %d",
        len(combos), len(groups), len(matrices), fold.number,
    )  # fmt: skip
    return scatter(groups, per_group, len(combos))
