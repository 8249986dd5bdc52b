"""Ensembles of registered models on a random walk: registered, reused, lineage, predict, chance-level, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from ensemblekit import Trained
from scipy.stats import binomtest

from walkforward import queries
from walkforward.ensembles import build_ensemble, parse_ensemble
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.registry import ModelNotFoundError, ModelStore


def _build(registry: ModelStore, **fields):
    return build_ensemble(parse_ensemble(fields), registry=registry)


@pytest.mark.slow
@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
@pytest.mark.parametrize("method", ["average", "inverse_variance", "stacking"])
def test_an_ensemble_of_a_random_walk_cohort_hits_at_chance(
    registry: ModelStore, trained: Trained, method: str
) -> None:
    """Its directional hit rate is inside the 95% binomial interval around a no-skill forecaster's rate.

    The no-skill rate keeps the ensemble's own share of "up" calls q and the realised share p: p q + (1-p)(1-q).
    """
    built = _build(registry, from_cohort=trained.cohort_id, top=3, method=method)
    frame = registry.load_predictions(built.record)
    up_true, up_pred = frame["y"].to_numpy() >= 0, frame["prediction"].to_numpy() >= 0
    hits, n = int((up_true == up_pred).sum()), len(frame)
    p, q = up_true.mean(), up_pred.mean()
    chance = p * q + (1 - p) * (1 - q)
    ci = binomtest(hits, n).proportion_ci(confidence_level=0.95)
    assert ci.low <= chance <= ci.high, (hits, n, chance, ci)
    # The same figure the metrics report (fold means of the same hit rates).
    folds = built.record.metrics["folds"]
    assert built.record.metrics["cv"]["hit_rate"] == pytest.approx(np.mean([f["hit_rate"] for f in folds]))


def _member_frames(registry: ModelStore, ids: list[str]) -> dict[str, np.ndarray]:
    return {i: registry.load_predictions(i)["prediction"].to_numpy() for i in ids}


@pytest.mark.slow
def test_registry_round_trip(registry: ModelStore, trained: Trained) -> None:
    built = _build(registry, from_cohort=trained.cohort_id, top=3, method="inverse_variance")
    record = built.record
    assert not built.reused and record.algorithm == "ensemble" and record.parent_model_id is None
    assert record.hyperparameters == {"method": "inverse_variance", "top": 3, "first_fold": "equal"}
    info = record.derived["ensemble"]
    assert sorted(info["candidates"]) == sorted(trained.cohort_ids) and len(info["members"]) == 3
    assert info["folds"][0]["basis"].startswith("equal weights over all 6 candidates")

    # Metrics on the members' folds, by the same code (fold metrics, cv score, trading figures).
    member = registry.get(trained.cohort_ids[0])
    assert [f["fold"] for f in record.metrics["folds"]] == [f["fold"] for f in member.metrics["folds"]]
    assert record.cv_score == pytest.approx(record.metrics["cv"]["r2"])
    assert "trading" in record.metrics and "sharpe" in record.metrics["cv"]

    # Its kept predictions are each fold's recorded weights applied to the members' kept predictions.
    kept = registry.load_predictions(record)
    members = _member_frames(registry, info["candidates"])
    folds = kept["fold"].to_numpy()
    for choice in info["folds"]:
        at = folds == choice["fold"]
        expected = sum(w * members[m][at] for m, w in zip(choice["members"], choice["weights"], strict=True))
        np.testing.assert_allclose(kept["prediction"].to_numpy()[at], expected, rtol=1e-9, atol=1e-15)

    # Lineage lists the members; the same ensemble again (ids in any order) reuses the registered one.
    lineage = queries.lineage(registry, record.id).to_dict()
    assert sorted(m["id"] for m in lineage["members"]) == sorted(trained.cohort_ids)
    again = _build(registry, models=",".join(reversed(trained.cohort_ids)), top=3, method="inverse_variance")
    assert again.reused and again.record.id == record.id
    assert registry.list(algorithm="ensemble")[1] == 1
    other = _build(registry, from_cohort=trained.cohort_id, top=3, method="average")
    assert not other.reused and other.record.fingerprint != record.fingerprint

    # Predict like any model: the final weights applied to the chosen members' own predictions.
    found = queries.predictions(registry, trained.store, record.id).frame
    final = info["final"]
    parts = {m: queries.predictions(registry, trained.store, m).frame for m in final["members"]}
    expected = sum(
        w * parts[m]["prediction"].to_numpy() for m, w in zip(final["members"], final["weights"], strict=True)
    )
    assert len(found) > len(kept) and found["in_sample"].any()
    np.testing.assert_allclose(found["prediction"].to_numpy(), expected, rtol=1e-9, atol=1e-15)
    assert "predicted_price" in found


@pytest.mark.slow
@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_a_stacked_classifier_ensemble_predicts_probabilities(registry: ModelStore, trained: Trained) -> None:
    built = _build(registry, models=",".join(trained.classifier_ids), method="stacking", first_fold="skip")
    info = built.record.derived["ensemble"]
    assert info["folds"][0]["skipped"] and info["folds"][0]["basis"] == "skipped: no earlier fold"
    assert [f["fold"] for f in built.record.metrics["folds"]] == [2, 3]
    assert info["final"]["meta_model"]["estimator"] == "LogisticRegression"
    assert built.record.metrics["score"] == "accuracy"
    found = queries.predictions(registry, trained.store, built.record.id).frame
    assert set(np.unique(found["prediction"])) <= {0, 1}
    assert found["probability_up"].between(0, 1).all()


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_refusals_name_what_is_wrong(registry: ModelStore, trained: Trained) -> None:
    with pytest.raises(InvalidInputError, match="top=7 is more than the 6 model"):
        _build(registry, from_cohort=trained.cohort_id, top=7)
    with pytest.raises(ModelNotFoundError, match="no model with id 'nope'"):
        _build(registry, models=f"{trained.cohort_ids[0]},nope")
    with pytest.raises(DataNotFoundError, match="no cohort 'nope'"):
        _build(registry, from_cohort="nope")
    with pytest.raises(InvalidInputError, match="differ in symbol"):
        _build(registry, models=f"{trained.cohort_ids[0]},{trained.other_symbol_id}")
    with pytest.raises(InvalidInputError, match="different tasks"):
        _build(registry, models=f"{trained.cohort_ids[0]},{trained.classifier_ids[0]}")
    with pytest.raises(InvalidInputError, match="not both or neither"):
        parse_ensemble({"models": "a,b", "from_cohort": "c"})
    with pytest.raises(InvalidInputError, match="lists a model twice"):
        parse_ensemble({"models": "a,a"})
    with pytest.raises(InvalidInputError, match="method"):
        parse_ensemble({"models": "a,b", "method": "median"})
    assert registry.list(algorithm="ensemble")[1] == 0  # nothing half-registered


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_members_scored_on_other_folds_are_refused(registry: ModelStore, trained: Trained, tmp_path) -> None:
    """A member whose kept predictions cover other test rows (here: one fold fewer) is refused."""
    import dataclasses

    from walkforward.registry import NewModel

    source = registry.get(trained.cohort_ids[1])
    frame = registry.load_predictions(source)
    fields = {name: getattr(source, name) for name in NewModel.__dataclass_fields__}
    shorter = NewModel(**{**fields, "fingerprint": "other-folds", "cohort_id": None})
    clone = registry.add(shorter, registry.load_artifact(source), predictions=frame[frame["fold"] != 1])
    assert dataclasses.asdict(clone)["id"] != source.id
    with pytest.raises(InvalidInputError, match="different folds or rows"):
        _build(registry, models=f"{trained.cohort_ids[0]},{clone.id}")
