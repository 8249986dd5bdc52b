"""Correlation clusters, the cluster-representative pipeline step and clustered MDA, on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import cross_validate

from walkforward.evaluation.clusters import FoldCase, cluster_features, clustered_mda, representatives
from walkforward.preprocessing.clustering import ClusterSelector
from walkforward.preprocessing.pipeline import build_pipeline, cluster_report, pruning_report, with_cluster_step


def _planted(n: int, seed: int, noise: float = 1e-3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "x_dup": x + noise * rng.normal(size=n),
            "x_neg": -x + noise * rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )


@settings(max_examples=30, deadline=None)
@given(n=st.integers(60, 400), seed=st.integers(0, 10_000), threshold=st.sampled_from([0.1, 0.3, 0.5]))
def test_near_duplicates_share_a_cluster_and_an_independent_feature_does_not(n: int, seed: int, threshold: float):
    clusters = cluster_features(_planted(n, seed), threshold)
    assert sorted(map(sorted, clusters)) == [["x", "x_dup", "x_neg"], ["z"]]


def test_every_feature_is_in_exactly_one_cluster_and_the_choice_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 3))
    X = pd.DataFrame(
        np.column_stack([base, base + 0.01 * rng.normal(size=(300, 3)), rng.normal(size=(300, 2))]),
        columns=[f"f{i}" for i in range(8)],
    )
    clusters = cluster_features(X, 0.3)
    members = [m for c in clusters for m in c]
    assert sorted(members) == sorted(X.columns) and len(members) == len(set(members))
    assert len(clusters) == 5  # three planted pairs, two loners
    assert clusters == cluster_features(X, 0.3) and representatives(X, clusters) == representatives(X, clusters)
    # a constant column correlates with nothing: a cluster of its own, never an error
    assert ["const"] in cluster_features(X.assign(const=1.0), 0.3)


def test_the_representative_is_the_member_closest_to_its_cluster() -> None:
    rng = np.random.default_rng(2)
    s = rng.normal(size=500)
    X = pd.DataFrame({"edge_a": s + 0.6 * rng.normal(size=500), "centre": s, "edge_b": s + 0.6 * rng.normal(size=500)})
    (cluster,) = cluster_features(X, 0.6)
    assert representatives(X, [cluster]) == ["centre"]


def test_a_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        cluster_features(_planted(50, 0), 0.0)
    with pytest.raises(ValueError, match="cluster_threshold"):
        ClusterSelector(threshold=1.5).fit(_planted(50, 0))


def _shifting(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """a~b in the first half (c independent), b~c in the second half (a independent)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    s1, s2 = rng.normal(size=half), rng.normal(size=half)
    a = np.concatenate([s1, rng.normal(size=half)])
    b = np.concatenate([s1 + 0.01 * rng.normal(size=half), s2])
    c = np.concatenate([rng.normal(size=half), s2 + 0.01 * rng.normal(size=half)])
    X = pd.DataFrame({"a": a, "b": b, "c": c, "d": rng.normal(size=n)})
    X.iloc[::37, 3] = np.nan  # the imputer before the step is fitted per fold too
    return X, X["b"].fillna(0).to_numpy() + rng.normal(size=n)


def test_the_cluster_step_is_refitted_on_each_folds_training_rows_only() -> None:
    X, y = _shifting()
    pipe = with_cluster_step(build_pipeline(LinearRegression(), linear=True, p_value_threshold=None), 0.3)
    folds = [(np.arange(0, 250), np.arange(260, 300)), (np.arange(300, 550), np.arange(560, 600))]
    result = cross_validate(pipe, X, y, cv=folds, return_estimator=True, scoring="r2")
    fitted = [est.named_steps["cluster"] for est in result["estimator"]]
    assert sorted(map(sorted, fitted[0].clusters_)) == [["a", "b"], ["c"], ["d"]]
    assert sorted(map(sorted, fitted[1].clusters_)) == [["a"], ["b", "c"], ["d"]]
    for step, (train, _) in zip(fitted, folds, strict=True):
        imputed = clone(pipe)[:1].fit_transform(X.iloc[train], y[train])
        assert step.n_rows_ == len(train)
        assert step.clusters_ == cluster_features(imputed, 0.3)  # from this fold's training rows only
        assert step.representatives_ == representatives(imputed, step.clusters_)
    kept = [set(step.get_feature_names_out()) for step in fitted]
    assert "c" in kept[0] and "a" in kept[1] and len(kept[0]) == len(kept[1]) == 3


def test_the_pipeline_reports_of_a_clustered_model() -> None:
    X, y = _shifting()
    pipe = with_cluster_step(build_pipeline(LinearRegression(), linear=True, p_value_threshold=None), 0.3).fit(X, y)
    report = cluster_report(pipe)
    assert report is not None and report["threshold"] == 0.3 and report["rows"] == len(X)
    kept = {c["kept"] for c in report["clusters"]}
    assert set(pruning_report(pipe, list(X.columns))) == kept  # pruning saw the representatives only
    assert cluster_report(build_pipeline(LinearRegression(), linear=True, p_value_threshold=None)) is None


def _r2_case(number: int, model, X: pd.DataFrame, y: np.ndarray) -> FoldCase:  # noqa: N803
    from sklearn.metrics import r2_score

    return FoldCase(number, lambda A, b: float(r2_score(b, model.predict(A))), X, y)


def test_clustered_mda_ranks_the_planted_informative_cluster_first() -> None:
    rng = np.random.default_rng(5)
    n = 1200
    s, t = rng.normal(size=n), rng.normal(size=n)
    X = pd.DataFrame(
        {
            "n1": t,
            "n2": t + 0.05 * rng.normal(size=n),  # a correlated but uninformative pair
            "s1": s + 0.05 * rng.normal(size=n),
            "s2": s + 0.05 * rng.normal(size=n),  # substitutes: each alone looks unimportant
            "z": rng.normal(size=n),
        }
    )
    y = s + 0.5 * rng.normal(size=n)
    clusters = cluster_features(X.iloc[:800], 0.3)
    cases = []
    for k, (tr, te) in enumerate([(slice(0, 400), slice(400, 600)), (slice(0, 800), slice(800, 1200))], 1):
        model = Ridge(alpha=1.0).fit(X.iloc[tr], y[tr])
        cases.append(_r2_case(k, model, X.iloc[te], y[te]))
    ranked = clustered_mda(cases, clusters, repeats=3, random_state=0)
    assert ranked[0]["members"] == ["s1", "s2"]
    assert ranked[0]["importance"] > 0.5  # R2 ~0.8 falls to ~-0.8 without the signal
    assert all(abs(r["importance"]) < 0.05 for r in ranked[1:])
    assert set(ranked[0]["folds"]) == {"1", "2"} and ranked[0]["std"] >= 0
    assert clustered_mda(cases, clusters, repeats=3, random_state=0) == ranked  # seeded: reproducible


def test_clustered_mda_refuses_rows_without_the_clustered_features() -> None:
    X = _planted(100, 0)
    model = LinearRegression().fit(X, X["x"])
    case = _r2_case(1, model, X.drop(columns="z"), X["x"].to_numpy())
    with pytest.raises(ValueError, match="lack clustered feature"):
        clustered_mda([case], [["x"], ["z"]])


def test_a_cluster_the_fold_model_never_saw_has_exactly_zero_importance() -> None:
    X = _planted(300, 3)
    y = X["x"].to_numpy() + 0.1 * X["z"].to_numpy()
    model = LinearRegression().fit(X[["x", "z"]].rename(columns={"x": "t_x", "z": "t_z"}), y)
    renamed = X[["x", "z"]].rename(columns={"x": "t_x", "z": "t_z"})

    def score(A: pd.DataFrame, b: np.ndarray) -> float:  # noqa: N803
        return -float(np.mean((model.predict(A) - b) ** 2))

    case = FoldCase(1, score, renamed, y, columns={"x": ["t_x"], "z": ["t_z"]})  # x_dup, x_neg pruned
    ranked = clustered_mda([case], [["x", "x_dup", "x_neg"], ["z"], ["gone"]], repeats=2)
    by = {tuple(r["members"]): r for r in ranked}
    assert by[("gone",)]["importance"] == 0.0 and by[("gone",)]["seen_folds"] == 0
    assert by[("x", "x_dup", "x_neg")]["seen_folds"] == 1 and ranked[0]["members"][0] == "x"
