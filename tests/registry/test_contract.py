"""The ModelStore contract, run unchanged against every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from migrating import schema_diffs

from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.registry import (
    DuplicateModelError,
    ModelNotFoundError,
    ModelRecord,
    ModelStore,
    NewModel,
    RegistryError,
)

NewModelFactory = Callable[..., NewModel]


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def ids(records: list[ModelRecord]) -> list[str]:
    return [r.id for r in records]


# --------------------------------------------------------------------------- add / get


def test_add_get_roundtrip_keeps_every_field(store: ModelStore, new_model: NewModelFactory) -> None:
    new = new_model(
        status="ready",
        hyperparameters={"alpha": np.float64(0.5), "max_depth": np.int64(3), "grid": (1, 2), "x": None},
        metrics={"r2": float("nan"), "rmse": 0.25, "per_fold": [0.1, float("inf"), -0.2]},
        folds={"n_splits": 2, "ranges": [[0, 5], [5, 10]]},
        cohort_id="c1",
        parent_model_id="someparent",
        cv_score=0.125,
        cohort_rank=2,
        feature_details={"rsi_14": {"importance": 0.3, "p_value": float("nan")}},
        regime_importance={"high_vol": {"rsi_14": 0.2}},
        derived={"input_features": ("rsi_14", "macd", "vix"), "pruning": {"vix": np.float64(0.7)}, "x": float("nan")},
        versions={"scikit-learn": "1.9.1", "numpy": "2.3.0"},
        fingerprint_version=2,
    )
    artifact = {"coef": np.arange(4.0)}
    before = dt.datetime.now(dt.UTC)
    record = store.add(new, artifact)

    assert store.get(record.id) == record
    assert record.created_at.tzinfo is not None and record.created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= record.created_at <= dt.datetime.now(dt.UTC)
    # Every NewModel field survives, NaN/inf become None, numpy and tuples become plain JSON.
    expected = dataclasses.asdict(new)
    expected["hyperparameters"] = {"alpha": 0.5, "max_depth": 3, "grid": [1, 2], "x": None}
    expected["metrics"] = {"r2": None, "rmse": 0.25, "per_fold": [0.1, None, -0.2]}
    expected["feature_details"] = {"rsi_14": {"importance": 0.3, "p_value": None}}
    expected["derived"] = {"input_features": ["rsi_14", "macd", "vix"], "pruning": {"vix": 0.7}, "x": None}
    got = dataclasses.asdict(store.get(record.id))
    for name, value in expected.items():
        assert got[name] == value, name
    assert isinstance(got["symbols"], tuple) and isinstance(got["features"], tuple)
    # The artifact is where the record says, with the recorded digest.
    path = Path(record.artifact_path)
    assert path.parent == store.models_dir and path.name == f"{record.id}.joblib"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record.artifact_sha256
    loaded = store.load_artifact(record.id)
    assert isinstance(loaded, dict)
    np.testing.assert_array_equal(loaded["coef"], artifact["coef"])


def test_nan_cv_score_and_missing_optionals_are_null(store: ModelStore, new_model: NewModelFactory) -> None:
    record = store.add(new_model(cv_score=float("nan")), object())
    got = store.get(record.id)
    assert got.cv_score is None
    assert got.cohort_id is None and got.parent_model_id is None and got.cohort_rank is None
    assert got.feature_details is None and got.regime_importance is None
    assert got.derived == {} and got.versions == {} and got.fingerprint_version == 1


def test_get_unknown_id_names_it(store: ModelStore) -> None:
    with pytest.raises(ModelNotFoundError, match="nope123.*walkforward models list") as info:
        store.get("nope123")
    assert isinstance(info.value, LookupError) and isinstance(info.value, WalkforwardError)
    assert store.get_by_fingerprint("absent") is None


def test_reopening_runs_migrations_idempotently(store: ModelStore, new_model: NewModelFactory) -> None:
    record = store.add(new_model(), 1)
    with ModelStore.open(store.url, store.models_dir) as again:
        assert again.get(record.id) == record


def test_migrated_schema_matches_metadata(store: ModelStore) -> None:
    assert schema_diffs(store.url) == []


# --------------------------------------------------------------------------- the atomic protocol


def test_duplicate_fingerprint_is_refused_without_leftovers(store: ModelStore, new_model: NewModelFactory) -> None:
    first = store.add(new_model(fingerprint="fp-1"), "a")
    with pytest.raises(DuplicateModelError) as info:
        store.add(new_model(fingerprint="fp-1", algorithm="rf"), "b")
    assert info.value.existing_id == first.id
    assert first.id in str(info.value)
    assert files_in(store.models_dir) == {f"{first.id}.joblib"}
    assert store.list()[1] == 1
    assert store.load_artifact(first.id) == "a"


def test_duplicate_caught_by_unique_constraint_deletes_artifact(
    store: ModelStore, new_model: NewModelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early check can lose a race; the UNIQUE constraint then decides and the file goes."""
    first = store.add(new_model(fingerprint="fp-race"), "a")
    real = store.get_by_fingerprint
    calls: list[str] = []

    def stale_first_lookup(fingerprint: str) -> ModelRecord | None:
        calls.append(fingerprint)
        return None if len(calls) == 1 else real(fingerprint)

    monkeypatch.setattr(store, "get_by_fingerprint", stale_first_lookup)
    with pytest.raises(DuplicateModelError) as info:
        store.add(new_model(fingerprint="fp-race"), "b")
    assert len(calls) == 2
    assert info.value.existing_id == first.id
    assert files_in(store.models_dir) == {f"{first.id}.joblib"}
    assert store.list()[1] == 1


def test_failed_insert_never_leaves_an_artifact(store: ModelStore, new_model: NewModelFactory) -> None:
    # NOT NULL violation at insert time: the artifact was written, then must be removed.
    with pytest.raises(RegistryError):
        store.add(new_model(status=None), "payload")
    # Not JSON-serialisable: refused before anything is written.
    with pytest.raises(InvalidInputError, match="hyperparameters"):
        store.add(new_model(hyperparameters={"estimator": object()}), "payload")
    with pytest.raises(InvalidInputError, match="derived"):
        store.add(new_model(derived={"fitted_estimator": object()}), "payload")
    assert files_in(store.models_dir) == set()
    assert store.list() == ([], 0)


def test_explicit_model_id_is_never_overwritten(store: ModelStore, new_model: NewModelFactory) -> None:
    first = store.add(new_model(), "original", model_id="my-model-1")
    assert first.id == "my-model-1"
    with pytest.raises(DuplicateModelError) as info:
        store.add(new_model(), "intruder", model_id="my-model-1")
    assert info.value.existing_id == "my-model-1"
    assert store.load_artifact("my-model-1") == "original"
    with pytest.raises(InvalidInputError):
        store.add(new_model(), "x", model_id="../escape")
    assert files_in(store.models_dir) == {"my-model-1.joblib"}


def test_existing_fingerprints_in_chunks(store: ModelStore, new_model: NewModelFactory) -> None:
    store.add(new_model(fingerprint="keep-a"), 1)
    store.add(new_model(fingerprint="keep-b"), 2)
    asked = [f"absent-{i}" for i in range(1200)] + ["keep-b", "keep-a", "keep-a"]
    assert store.existing_fingerprints(asked) == {"keep-a", "keep-b"}
    assert store.existing_fingerprints([]) == set()


# --------------------------------------------------------------------------- list


@pytest.fixture()
def population(store: ModelStore, new_model: NewModelFactory) -> dict[str, ModelRecord]:
    """Five models: two symbols, two algorithms, two cohorts, one parent link, one without r2."""
    specs: dict[str, dict[str, Any]] = {
        "a": {"symbol": "AAPL", "algorithm": "ridge", "cohort_id": "c1", "cv_score": 0.3, "metrics": {"r2": 0.5}},
        "b": {"symbol": "AAPL", "algorithm": "rf", "cohort_id": "c1", "cv_score": 0.1, "metrics": {"r2": -0.2}},
        "c": {"symbol": "MSFT", "algorithm": "ridge", "cohort_id": "c2", "cv_score": None, "metrics": {"r2": 0.9}},
        "d": {"symbol": "MSFT", "algorithm": "rf", "cohort_id": None, "cv_score": 0.2, "metrics": {"rmse": 1.0}},
        "e": {"symbol": "AAPL", "algorithm": "ridge", "cohort_id": "c1", "cv_score": 0.4, "metrics": {"r2": 0.1}},
    }
    out: dict[str, ModelRecord] = {}
    for key, spec in specs.items():
        if key == "e":
            spec["parent_model_id"] = out["a"].id
        out[key] = store.add(new_model(**spec), key)
        time.sleep(0.002)  # distinct created_at
    return out


def test_list_filters(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population

    def selected(**filters: Any) -> set[str]:
        page, total = store.list(limit=100, **filters)
        assert total == len(page)
        return set(ids(page))

    assert selected() == {r.id for r in p.values()}
    assert selected(symbol="MSFT") == {p["c"].id, p["d"].id}
    assert selected(algorithm="ridge") == {p["a"].id, p["c"].id, p["e"].id}
    assert selected(cohort_id="c1") == {p["a"].id, p["b"].id, p["e"].id}
    assert selected(parent_model_id=p["a"].id) == {p["e"].id}
    assert selected(symbol="AAPL", algorithm="ridge", cohort_id="c1") == {p["a"].id, p["e"].id}
    assert selected(symbol="NONE") == set()
    assert selected(algorithms=("rf",)) == {p["b"].id, p["d"].id}
    assert selected(algorithms=("rf", "ridge"), symbol="MSFT") == {p["c"].id, p["d"].id}
    assert selected(algorithms=()) == set()
    assert selected(id_prefix=p["c"].id[:8]) == {p["c"].id}
    assert selected(id_prefix="%") == set()  # a LIKE wildcard is matched literally


def test_list_sorts_by_columns(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population
    newest_first, _ = store.list()
    assert ids(newest_first) == [p[k].id for k in "edcba"]
    assert ids(store.list(descending=False)[0]) == [p[k].id for k in "abcde"]
    # NULL cv_score sorts last in both directions, on both backends.
    assert ids(store.list(sort="cv_score")[0]) == [p[k].id for k in "eadbc"]
    assert ids(store.list(sort="cv_score", descending=False)[0]) == [p[k].id for k in "bdaec"]
    by_algorithm = store.list(sort="algorithm", descending=False)[0]
    assert [r.algorithm for r in by_algorithm] == ["rf", "rf", "ridge", "ridge", "ridge"]


def test_list_sorts_by_metric(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population
    # "d" has no r2: last in both directions.
    assert ids(store.list(sort="metrics.r2")[0]) == [p[k].id for k in "caebd"]
    assert ids(store.list(sort="metrics.r2", descending=False)[0]) == [p[k].id for k in "beacd"]


@pytest.mark.parametrize("sort", ["nope", "metrics.", "metrics.r2; DROP TABLE models", "metrics.a.b", "id"])
def test_list_refuses_unknown_sort(store: ModelStore, sort: str) -> None:
    with pytest.raises(InvalidInputError, match="unknown sort"):
        store.list(sort=sort)


def test_list_refuses_bad_page(store: ModelStore) -> None:
    with pytest.raises(InvalidInputError):
        store.list(limit=0)
    with pytest.raises(InvalidInputError):
        store.list(offset=-1)


def test_pagination_covers_everything_once(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    full, total = store.list(sort="metrics.r2", limit=100)
    pages = []
    for offset in range(0, 6, 2):
        page, page_total = store.list(sort="metrics.r2", limit=2, offset=offset)
        assert page_total == total == 5
        pages.extend(page)
    assert ids(pages) == ids(full)
    assert store.list(limit=2, offset=10) == ([], 5)


# --------------------------------------------------------------------------- cohorts


def test_cohort_ranking(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population
    # Unranked: by cv_score descending.
    assert ids(store.cohort("c1")) == [p[k].id for k in "eab"]
    store.set_cohort_ranks("c1", {p["b"].id: 1, p["a"].id: 2})
    ranked = store.cohort("c1")
    assert ids(ranked) == [p[k].id for k in "bae"]  # unranked "e" last
    assert [r.cohort_rank for r in ranked] == [1, 2, None]
    assert ids(store.list(cohort_id="c1", sort="cohort_rank", descending=False)[0]) == ids(ranked)


def test_set_cohort_ranks_is_all_or_nothing(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population
    with pytest.raises(ModelNotFoundError, match="not in cohort"):
        store.set_cohort_ranks("c1", {p["a"].id: 1, p["c"].id: 2})  # "c" is in c2
    assert store.get(p["a"].id).cohort_rank is None
    assert store.cohort("unknown") == []


# --------------------------------------------------------------------------- lineage


def test_three_generation_lineage(store: ModelStore, new_model: NewModelFactory) -> None:
    root = store.add(new_model(), "root")
    child = store.add(new_model(parent_model_id=root.id), "child")
    sibling = store.add(new_model(parent_model_id=root.id), "sibling")
    grandchild = store.add(new_model(parent_model_id=child.id), "grandchild")
    store.add(new_model(), "unrelated")

    assert store.ancestors(grandchild.id) == [child, root]
    assert store.ancestors(root.id) == []
    assert store.descendants(root.id) == [child, sibling, grandchild]
    assert store.descendants(child.id) == [grandchild]
    assert store.descendants(grandchild.id) == []
    with pytest.raises(ModelNotFoundError):
        store.ancestors("missing")

    # Deleting a parent keeps the child's link as text; the chain stops there.
    store.delete(child.id)
    orphan = store.get(grandchild.id)
    assert orphan.parent_model_id == child.id
    assert store.ancestors(grandchild.id) == []
    assert store.descendants(root.id) == [sibling]


def test_lineage_cycles_terminate(store: ModelStore, new_model: NewModelFactory) -> None:
    x = store.add(new_model(parent_model_id="model-y"), "x", model_id="model-x")
    y = store.add(new_model(parent_model_id="model-x"), "y", model_id="model-y")
    assert store.ancestors(x.id) == [y]
    assert store.descendants(x.id) == [y]


# --------------------------------------------------------------------------- updates and deletes


def test_update_explanations(store: ModelStore, new_model: NewModelFactory) -> None:
    record = store.add(new_model(), "m")
    store.update_explanations(record.id, {"rsi_14": {"importance": float("nan"), "rank": 1}}, None)
    got = store.get(record.id)
    assert got.feature_details == {"rsi_14": {"importance": None, "rank": 1}}
    assert got.regime_importance is None
    store.update_explanations(record.id, {}, {"calm": {"rsi_14": 0.5}})
    got = store.get(record.id)
    assert got.feature_details == {} and got.regime_importance == {"calm": {"rsi_14": 0.5}}
    assert dataclasses.replace(got, feature_details=None, regime_importance=None) == record
    with pytest.raises(ModelNotFoundError):
        store.update_explanations("missing", {}, None)


def test_update_explanations_keeps_their_notes_beside_what_was_derived(
    store: ModelStore, new_model: NewModelFactory
) -> None:
    """A recomputed explanation's notes and clustered importance go under derived["explanations"]; the rest stays."""
    record = store.add(new_model(derived={"data_end": "2024-01-02", "explanations": {"old": True}}), "m")
    info = {"clusters": {"threshold": 0.5, "clusters": [{"members": ["a", "b"], "importance": 0.1}]}}
    store.update_explanations(record.id, {"a": {"rank": 1}}, None, info)
    got = store.get(record.id)
    assert got.derived == {"data_end": "2024-01-02", "explanations": info}
    assert dataclasses.replace(got, feature_details=None, derived=record.derived) == record
    with pytest.raises(ModelNotFoundError):
        store.update_explanations("missing", {}, None, info)


def test_delete_removes_row_and_file(store: ModelStore, new_model: NewModelFactory) -> None:
    keep = store.add(new_model(), "keep")
    gone = store.add(new_model(), "gone")
    store.delete(gone.id)
    with pytest.raises(ModelNotFoundError):
        store.get(gone.id)
    assert files_in(store.models_dir) == {f"{keep.id}.joblib"}
    with pytest.raises(ModelNotFoundError):
        store.delete(gone.id)
    Path(keep.artifact_path).unlink()  # a missing file is fine
    store.delete(keep.id)
    assert store.list() == ([], 0)


def test_delete_cohort(store: ModelStore, population: dict[str, ModelRecord]) -> None:
    p = population
    assert store.delete_cohort("c1") == 3
    remaining = {r.id for r in store.list()[0]}
    assert remaining == {p["c"].id, p["d"].id}
    assert files_in(store.models_dir) == {f"{p['c'].id}.joblib", f"{p['d'].id}.joblib"}
    assert store.delete_cohort("c1") == 0


def test_sweep_orphans(store: ModelStore, new_model: NewModelFactory) -> None:
    kept = store.add(new_model(), "kept")
    orphan = store.models_dir / f"{uuid.uuid4().hex}.joblib"
    orphan.write_bytes(b"left by a crash between write and commit")
    stale_tmp = store.models_dir / ".tmp-crashed-abc.part"
    stale_tmp.write_bytes(b"partial")
    unrelated = store.models_dir / "README.txt"
    unrelated.write_text("not an artifact")

    assert store.sweep_orphans() == []  # too young under the default grace period
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    assert store.sweep_orphans() == [orphan]
    assert sorted(store.sweep_orphans(older_than_seconds=0)) == [stale_tmp]
    assert files_in(store.models_dir) == {f"{kept.id}.joblib", "README.txt"}
    assert store.load_artifact(kept.id) == "kept"


def test_a_dead_writers_temporary_file_is_swept_at_once(store: ModelStore) -> None:
    import socket
    import subprocess

    host = socket.gethostname()
    done = subprocess.Popen(["true"])
    done.wait()  # a process of this host that no longer runs
    running = subprocess.Popen(["sleep", "30"])
    try:
        dead = store.models_dir / f".tmp-{done.pid}~{host}~m1-abc.part"
        alive = store.models_dir / f".tmp-{running.pid}~{host}~m2-abc.part"
        elsewhere = store.models_dir / f".tmp-{done.pid}~not-{host}~m3-abc.part"
        store.models_dir.mkdir(parents=True, exist_ok=True)
        for path in (dead, alive, elsewhere):
            path.write_bytes(b"partial")
        assert store.sweep_orphans() == [dead]  # young files of live or other hosts' writers stay
        assert files_in(store.models_dir) >= {alive.name, elsewhere.name}
    finally:
        running.kill()
        running.wait()
