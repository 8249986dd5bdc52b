"""Feature importance (coefficients, tree importance, permutation, SHAP) on data whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from walkforward.evaluation.importance import explain
from walkforward.evaluation.plots import regime_bars_png, shap_summary_png
from walkforward.models import ALGORITHMS, get_algorithm
from walkforward.preprocessing import build_pipeline
from walkforward.preprocessing.pipeline import selected_features

N, TRAIN = 600, 400
FAST = {"max_rows": 200, "shap_rows": 200, "repeats": 3}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frame(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``ret_5_QQQ`` drives the target; the rest is noise; ``regime_vix`` is 0/1/2 with a few NaN."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0, 1.0, N)
    X = pd.DataFrame(
        {
            "ret_5_QQQ": ret,
            "rsi_14": rng.uniform(0.0, 100.0, N),
            "volume": rng.lognormal(10.0, 1.0, N),
            "regime_vix": rng.integers(0, 3, N).astype(float),
            "noise": rng.normal(0.0, 1.0, N),
        }
    )
    X.loc[rng.choice(N, 10, replace=False), "regime_vix"] = np.nan
    return X, 2.0 * ret + 0.3 * rng.normal(0.0, 1.0, N)


def _order(details: dict[str, dict[str, Any]], key: str = "shap_mean_abs") -> list[str]:
    """Feature names by ``key``, largest first (missing values last)."""

    def value(feature: str) -> float:
        v = details[feature].get(key)
        return float(v) if isinstance(v, int | float) else -np.inf

    return sorted(details, key=value, reverse=True)


def _fit(name: str, X: pd.DataFrame, y: np.ndarray, threshold: float = 1.0) -> Pipeline:
    spec = get_algorithm(name)
    est = spec.build({"n_estimators": 30} if spec.family == "tree" else {})
    pipe = build_pipeline(est, linear=spec.family == "linear", p_value_threshold=threshold)
    return pipe.fit(X.iloc[:TRAIN], y[:TRAIN])


def _labels(name: str, y: np.ndarray) -> np.ndarray:
    return (y > 0).astype(np.int64) if get_algorithm(name).is_classifier else y


def _explain(name: str, pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, **kw: Any) -> Any:
    spec = get_algorithm(name)
    return explain(pipe, X.iloc[TRAIN:], y[TRAIN:], task=spec.task, family=spec.family, **{**FAST, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_ranks_the_signal_first(name: str) -> None:
    X, target = _frame()
    y = _labels(name, target)
    pipe = _fit(name, X, y)
    details, regimes, info = _explain(name, pipe, X, y)

    json.dumps([details, regimes, info], allow_nan=False)
    assert set(details) == set(selected_features(pipe)) == set(X.columns)
    for f, entry in details.items():
        for key in ("permutation_mean", "permutation_std", "shap_mean_abs"):
            assert isinstance(entry[key], float), (f, key)
    assert _order(details)[0] == "ret_5_QQQ"
    assert _order(details, "permutation_mean")[0] == "ret_5_QQQ"

    family = get_algorithm(name).family
    assert info["explainer"] == family
    if family == "linear":
        assert details["ret_5_QQQ"]["coefficient"] > 0
        assert set(details["regime_vix"]["coefficients_by_level"]) == {"0", "1", "2"}
    else:
        assert _order(details, "tree_importance")[0] == "ret_5_QQQ"
        assert sum(e["tree_importance"] for e in details.values()) == pytest.approx(1.0)
    assert set(regimes) == {"regime_vix"}
    assert set(regimes["regime_vix"]) == {"0", "1", "2"}
    for level in regimes["regime_vix"].values():
        assert set(level) == set(details)
        assert max(level, key=lambda f: level[f]) == "ret_5_QQQ"
    assert info["shap_rows"] == (100 if "random_forest" in name else 200)
    assert info["permutation_rows"] == 200


def test_only_features_that_survive_pruning_are_reported() -> None:
    X, y = _frame()
    pipe = _fit("elasticnet_regression", X, y, threshold=0.05)
    details, regimes, _ = _explain("elasticnet_regression", pipe, X, y)
    assert "ret_5_QQQ" in details
    assert set(details) == set(selected_features(pipe)) < set(X.columns)
    assert all(set(level) == set(details) for level in regimes["regime_vix"].values())


@pytest.mark.slow
def test_a_rejected_explainer_falls_back_and_says_why() -> None:
    X, y = _frame()
    pipe = _fit("elasticnet_regression", X, y)
    details, regimes, info = _explain("elasticnet_regression", pipe, X, y, prefer="tree", shap_rows=30)
    json.dumps([details, regimes, info], allow_nan=False)
    assert info["explainer"] == "permutation_fallback"
    assert "TreeExplainer" in info["first_attempt_error"]
    assert info["shap_rows"] == 30
    assert _order(details)[0] == "ret_5_QQQ"
    # A linear model's exact SHAP value of the signal is coef * (x - mean): the fallback is close to it.
    assert details["ret_5_QQQ"]["shap_mean_abs"] == pytest.approx(1.6, rel=0.25)


@pytest.mark.slow
def test_forced_fallback_for_a_classifier_explains_the_probability() -> None:
    X, target = _frame()
    y = _labels("lightgbm_classifier", target)
    pipe = _fit("lightgbm_classifier", X, y)
    details, regimes, info = _explain("lightgbm_classifier", pipe, X, y, prefer="permutation_fallback", shap_rows=30)
    json.dumps([details, regimes, info], allow_nan=False)
    assert info["explainer"] == "permutation_fallback"
    assert "probability" in info["shap_output"]
    assert "first_attempt_error" not in info
    assert _order(details)[0] == "ret_5_QQQ"
    assert all(0.0 <= e["shap_mean_abs"] <= 1.0 for e in details.values())
    assert set(regimes["regime_vix"]) == {"0", "1", "2"}  # 30 rows over 3 levels: each has >= 5


def test_one_hot_regime_dummies_map_back_to_their_column() -> None:
    X, y = _frame(seed=1)
    y = y + 1.5 * (X["regime_vix"].fillna(0.0).to_numpy() == 2.0)  # level 2 lifts the target
    pipe = _fit("linear_regression", X, y)
    assert any(c.startswith("regime_vix_") for c in pipe[:-1].get_feature_names_out())
    details, regimes, info = _explain("linear_regression", pipe, X, y)

    assert set(details) == set(X.columns)  # no dummy names
    regime = details["regime_vix"]
    by_level = regime["coefficients_by_level"]
    assert set(by_level) == {"0", "1", "2"}
    assert by_level["2"] - by_level["0"] == pytest.approx(1.5, abs=0.2)
    assert by_level["2"] - by_level["1"] == pytest.approx(1.5, abs=0.2)
    assert regime["coefficient"] == max(by_level.values(), key=abs)
    assert regime["shap_mean_abs"] > details["noise"]["shap_mean_abs"]
    assert _order(details)[:2] == ["ret_5_QQQ", "regime_vix"]
    assert info["explainer"] == "linear"


def test_sampling_is_deterministic() -> None:
    X, y = _frame()
    pipe = _fit("elasticnet_regression", X, y)
    first = _explain("elasticnet_regression", pipe, X, y)
    second = _explain("elasticnet_regression", pipe, X, y)
    assert first[0] == second[0] and first[1] == second[1]


def test_bad_input_is_refused() -> None:
    X, y = _frame()
    pipe = _fit("elasticnet_regression", X, y)
    with pytest.raises(ValueError, match="lacks"):
        explain(pipe, X.drop(columns="noise"), y, task="regression", family="linear")
    with pytest.raises(ValueError, match="rows"):
        explain(pipe, X, y[:10], task="regression", family="linear")
    with pytest.raises(ValueError, match="explainer"):
        explain(pipe, X, y, task="regression", family="linear", prefer="kernel")


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plots_write_png_files(tmp_path: Path) -> None:
    long_name = "ma_dist_200_over_volatility_adjusted_momentum_zscore_QQQ"
    details: dict[str, dict[str, float | None]] = {
        "ret_5_QQQ": {"shap_mean_abs": 1.2, "permutation_mean": 0.5},
        long_name: {"shap_mean_abs": 0.3, "permutation_mean": 0.1},
        "regime_vix": {"shap_mean_abs": None, "permutation_mean": 0.0},
    }
    regimes = {
        "regime_vix": {"0": {"ret_5_QQQ": 1.0, long_name: 0.2}, "2": {"ret_5_QQQ": 1.4, long_name: None}},
        "regime_gmm_QQQ": {"0": {"ret_5_QQQ": 0.9}, "1": {"ret_5_QQQ": 1.1}, "10": {"ret_5_QQQ": 0.5}},
    }
    out = shap_summary_png(details, tmp_path / "charts" / "shap.png", title="test")
    assert out == tmp_path / "charts" / "shap.png" and _is_png(out)
    assert _is_png(regime_bars_png(regimes, tmp_path / "regimes.png", top=5))
    no_shap = {f: {"permutation_mean": e["permutation_mean"]} for f, e in details.items()}
    assert _is_png(shap_summary_png(no_shap, tmp_path / "perm.png"))
    assert _is_png(shap_summary_png({}, tmp_path / "empty.png"))
    assert _is_png(regime_bars_png({}, tmp_path / "no_regimes.png"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["charts", "shap.png", "regimes.png", "perm.png", "empty.png", "no_regimes.png"]
    )  # no temporary file left behind


def test_plots_of_a_real_explanation(tmp_path: Path) -> None:
    X, y = _frame()
    pipe = _fit("linear_regression", X, y)
    details, regimes, _ = _explain("linear_regression", pipe, X, y, repeats=1)
    assert _is_png(shap_summary_png(details, tmp_path / "a.png"))
    assert _is_png(regime_bars_png(regimes, tmp_path / "b.png"))
