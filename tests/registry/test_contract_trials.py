"""The TrialStore contract and migration 0005, on every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from migrating import migration_config, schema_diffs, table_names, versions

from walkforward.errors import InvalidInputError
from walkforward.registry import FULL_FIDELITY, ModelStore, TrialMeta, TrialScore, TrialStore
from walkforward.registry.database import _head_revisions

FOLDS = [{"fold": 1, "r2": 0.02, "rmse": 0.5, "n": 40}, {"fold": 2, "r2": -0.01, "rmse": 0.6, "n": 40}]


def _fp() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex, like a model fingerprint


@pytest.fixture()
def trials(store: ModelStore) -> Iterator[TrialStore]:
    yield TrialStore(store.database)


def test_a_recorded_trial_reads_back_and_a_second_record_keeps_the_first(trials: TrialStore) -> None:
    fp = _fp()
    assert trials.record(fp, FULL_FIDELITY, FOLDS, 0.005) is True
    assert trials.scores([fp], FULL_FIDELITY) == {fp: TrialScore(FOLDS, 0.005)}
    # Idempotent: recording it again (other metrics, as a racing search might) keeps the stored row.
    assert trials.record(fp, FULL_FIDELITY, [{"fold": 1, "r2": 0.9}], 0.9) is False
    fold_metrics, score = trials.scores([fp], FULL_FIDELITY)[fp]
    assert (fold_metrics, score) == (FOLDS, 0.005)


def test_fidelities_are_kept_apart_and_absent_trials_left_out(trials: TrialStore) -> None:
    fp, other = _fp(), _fp()
    trials.record(fp, FULL_FIDELITY, FOLDS, 0.005)
    trials.record(fp, "rounds=50;folds=2", FOLDS[:1], 0.02)
    assert trials.scores([fp, other], FULL_FIDELITY) == {fp: TrialScore(FOLDS, 0.005)}
    assert trials.scores([fp, other], "rounds=50;folds=2") == {fp: TrialScore(FOLDS[:1], 0.02)}
    assert trials.scores([other], FULL_FIDELITY) == {} and trials.scores([], FULL_FIDELITY) == {}


def test_non_finite_values_are_stored_as_null(trials: TrialStore) -> None:
    fp = _fp()
    trials.record(fp, FULL_FIDELITY, [{"fold": 1, "r2": float("nan")}], float("inf"))
    assert trials.scores([fp], FULL_FIDELITY)[fp] == TrialScore([{"fold": 1, "r2": None}], None)


def test_many_trials_are_written_and_read_in_chunks(trials: TrialStore) -> None:
    scored = {_fp(): ([{"fold": 1, "r2": i / 1000}], i / 1000) for i in range(1203)}
    first = dict(list(scored.items())[:300])
    assert trials.record_many(FULL_FIDELITY, first) == 300
    assert trials.record_many(FULL_FIDELITY, scored) == 903  # the first 300 are kept, not rewritten
    found = trials.scores([*scored, _fp()], FULL_FIDELITY)
    assert found == {fp: TrialScore(m, s) for fp, (m, s) in scored.items()}


def test_delete_removes_every_fidelity_or_only_the_given_one(trials: TrialStore) -> None:
    a, b = _fp(), _fp()
    for fp in (a, b):
        trials.record(fp, FULL_FIDELITY, FOLDS, 0.1)
        trials.record(fp, "rounds=50", FOLDS, 0.2)
    assert trials.delete([a], fidelity="rounds=50") == 1
    assert set(trials.scores([a, b], FULL_FIDELITY)) == {a, b}
    assert set(trials.scores([a, b], "rounds=50")) == {b}
    assert trials.delete([a, b, _fp()]) == 3
    assert trials.scores([a, b], FULL_FIDELITY) == {} and trials.delete([]) == 0


@pytest.mark.parametrize(
    ("fingerprint", "fidelity"), [("", "full"), ("f" * 65, "full"), ("abc", ""), ("abc", "x" * 129)]
)
def test_invalid_keys_are_refused(trials: TrialStore, fingerprint: str, fidelity: str) -> None:
    with pytest.raises(InvalidInputError):
        trials.record(fingerprint, fidelity, FOLDS, 0.1)
    assert trials.scores([fingerprint], fidelity) == {}


def test_json_unsafe_metrics_are_refused(trials: TrialStore) -> None:
    with pytest.raises(InvalidInputError, match="fold_metrics"):
        trials.record(_fp(), FULL_FIDELITY, [{"fold": 1, "model": object()}], 0.1)


def test_0005_adds_the_trials_table_to_a_0004_database_and_drops_it_again(
    backend_url: str, models_dir: Path, new_model
) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0004")
    assert versions(backend_url) == ["0004"]

    # Opening the store migrates to head; the models written before are untouched.
    fp = _fp()
    with ModelStore.open(backend_url, models_dir) as store:
        record = store.add(new_model(), "artifact")
        trials = TrialStore(store.database)
        assert trials.record(fp, FULL_FIDELITY, FOLDS, 0.005)
    assert versions(backend_url) == sorted(_head_revisions())  # 0005 and every later revision

    command.downgrade(config, "0004")
    assert "trials" not in table_names(backend_url)
    with ModelStore.open(backend_url, models_dir) as store:
        assert store.get(record.id) == record
        assert TrialStore(store.database).scores([fp], FULL_FIDELITY) == {}  # the table is new and empty
    assert schema_diffs(backend_url) == []


def test_a_cohort_s_trials_read_back_with_what_they_were_in_scored_order(trials: TrialStore) -> None:
    cohort, other = uuid.uuid4().hex[:24], uuid.uuid4().hex[:24]
    first = {_fp(): ([{"fold": 1, "r2": i / 10}], i / 10) for i in range(3)}
    meta = {fp: TrialMeta(cohort, {"alpha": 10.0**-i, "l1_ratio": 0.5}, 2 - i) for i, fp in enumerate(first)}
    assert trials.record_many(FULL_FIDELITY, first, meta) == 3
    before = trials.cohort_state(cohort)
    later, plain, elsewhere = _fp(), _fp(), _fp()
    trials.record_many(FULL_FIDELITY, {later: (FOLDS, None)}, {later: TrialMeta(cohort, {"alpha": 1.0}, 0)})
    trials.record(plain, FULL_FIDELITY, FOLDS, 0.3)  # written without saying what it was
    trials.record_many(FULL_FIDELITY, {elsewhere: (FOLDS, 0.1)}, {elsewhere: TrialMeta(other, {"alpha": 2.0})})
    trials.record_many("rounds=50", {later: (FOLDS, 0.9)}, {later: TrialMeta(cohort, {"alpha": 1.0}, 0)})

    found = trials.of_cohort(cohort)
    # the first run's three by position, then the later run's one; others' and plain trials are not here
    assert [t.fingerprint for t in found] == [*reversed(first), later]
    assert [t.position for t in found] == [0, 1, 2, 0]
    assert found[0].params == {"alpha": 0.01, "l1_ratio": 0.5} and found[0].score == 0.2
    assert found[-1].score is None and found[-1].created_at.tzinfo is not None
    assert [t.fingerprint for t in trials.of_cohort(cohort, "rounds=50")] == [later]
    assert [t.fingerprint for t in trials.of_cohort(other)] == [elsewhere]
    assert trials.of_cohort(uuid.uuid4().hex[:24]) == []
    assert before[0] == 3 and trials.cohort_state(cohort)[0] == 4 and trials.cohort_state(cohort) != before
    assert trials.scores([plain], FULL_FIDELITY)[plain].score == 0.3  # the plain trial still resumes searches


def test_0010_adds_what_trials_were_and_keeps_the_trials_written_before(
    backend_url: str, models_dir: Path, new_model
) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0009")
    old = _fp()
    with ModelStore.open(backend_url, models_dir) as store:  # to head: 0010 and later
        trials = TrialStore(store.database)
        trials.record(old, FULL_FIDELITY, FOLDS, 0.005)
    command.downgrade(config, "0009")
    assert versions(backend_url) == ["0009"]
    with ModelStore.open(backend_url, models_dir) as store:
        trials = TrialStore(store.database)
        assert trials.scores([old], FULL_FIDELITY) == {old: TrialScore(FOLDS, 0.005)}
        new = _fp()
        trials.record_many(FULL_FIDELITY, {new: (FOLDS, 0.01)}, {new: TrialMeta("c" * 24, {"alpha": 0.1}, 0)})
        assert [t.fingerprint for t in trials.of_cohort("c" * 24)] == [new]
    assert schema_diffs(backend_url) == []
