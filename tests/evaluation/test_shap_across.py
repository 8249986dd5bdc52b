"""SHAP consistency across models: ranks, shares and sign agreement on planted explanations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.evaluation.shap_across import ModelShap, consistency, normalised, ranks, sign_agreement


@settings(max_examples=50, deadline=None)
@given(n_models=st.integers(1, 8), n_features=st.integers(2, 30), top=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_a_feature_top_in_every_model_ranks_first(n_models: int, n_features: int, top: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    models = []
    for i in range(n_models):
        values = {f"f{j}": float(rng.uniform(0, 1)) for j in range(n_features)}
        values["star"] = 1.5 + float(rng.uniform(0, 1))  # above every other feature in every model
        models.append(ModelShap(f"m{i}", values))
    out = consistency(models, top=top)
    first = out["features"][0]
    assert first["feature"] == "star" and first["top_share"] == 1.0 and first["mean_rank"] == 1.0
    assert out["n_models"] == n_models and all(m["top_features"][0] == "star" for m in out["models"])
    shares = [f["mean_normalised"] for f in out["features"]]
    assert sum(shares) == pytest.approx(1.0)  # each model's shares sum to 1, and so does their mean
    assert all(0.0 <= f["top_share"] <= 1.0 for f in out["features"])


def test_a_feature_some_models_never_used_counts_against_its_consistency() -> None:
    models = [
        ModelShap("a", {"x": 1.0, "y": 2.0}),
        ModelShap("b", {"x": 1.0, "y": 2.0}),
        ModelShap("c", {"x": 5.0}),  # pruned y away
    ]
    rows = {f["feature"]: f for f in consistency(models, top=1)["features"]}
    assert rows["y"]["models"] == 2 and rows["y"]["top_share"] == pytest.approx(2 / 3)
    assert rows["x"]["top_share"] == pytest.approx(1 / 3) and rows["x"]["mean_rank"] == pytest.approx(5 / 3)
    assert rows["y"]["mean_normalised"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_units_do_not_matter_only_ranks_and_shares() -> None:
    a = consistency([ModelShap("a", {"x": 3.0, "y": 1.0}), ModelShap("b", {"x": 0.3, "y": 0.1})])
    b = consistency([ModelShap("a", {"x": 3000.0, "y": 1000.0}), ModelShap("b", {"x": 3e-6, "y": 1e-6})])
    assert a["features"] == b["features"]


def test_regime_cells_are_counted_per_model_column_and_level() -> None:
    regimes = {"regime_vix": {"0": {"x": 1.0, "y": 0.1}, "1": {"x": 0.1, "y": 1.0}}}
    out = consistency(
        [ModelShap("a", {"x": 1.0, "y": 0.5}, regimes), ModelShap("b", {"x": 1.0, "y": 0.5}, regimes)], top=1
    )
    rows = {f["feature"]: f for f in out["features"]}
    assert out["n_regime_cells"] == 4
    assert rows["x"]["regime_top_share"] == 0.5 and rows["y"]["regime_top_share"] == 0.5


def test_models_without_shap_are_skipped_and_named() -> None:
    out = consistency([ModelShap("a", {"x": 1.0}), ModelShap("none", {}), ModelShap("nan", {"x": float("nan")})])
    assert out["n_models"] == 1 and out["skipped_models"] == ["none", "nan"]


def test_ranks_and_normalised_are_deterministic() -> None:
    assert ranks({"b": 1.0, "a": 1.0, "c": 2.0, "d": None}) == {"c": 1, "a": 2, "b": 3}
    assert normalised({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    with pytest.raises(ValueError, match="top"):
        consistency([], top=0)


def test_sign_agreement() -> None:
    assert sign_agreement({"a": 0.5, "b": 0.2, "c": -0.1}) == {
        "sign": 1,
        "agreement": pytest.approx(2 / 3),
        "models": 3,
    }
    assert sign_agreement({"a": None, "b": float("nan")}) == {"sign": None, "agreement": None, "models": 0}
    assert sign_agreement({"a": 0.5, "b": -0.5})["sign"] == 0
