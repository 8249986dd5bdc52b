"""The ModelStore contract across processes, on every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import registry_workers

from walkforward.registry import FULL_FIDELITY, ModelStore, TrialScore, TrialStore


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def _run_workers(store: ModelStore, batches: list[list[str]]) -> list[tuple[str, str, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(batches))
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=registry_workers.add_models,
            args=(store.url, str(store.models_dir), batch, barrier, results),
        )
        for batch in batches
    ]
    for proc in procs:
        proc.start()
    expected = sum(len(batch) for batch in batches)
    outcomes = [results.get(timeout=90) for _ in range(expected)]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return outcomes


def test_concurrent_processes(store: ModelStore) -> None:
    """Two processes race on one fingerprint, then each adds its own models to the same database.

    The race leaves exactly one row and one file (the loser gets DuplicateModelError naming the
    winner); every distinct add succeeds. (Two processes: each spawn costs ~1 s of imports.)
    """
    batches = [["same"] + [f"p{p}-m{m}" for m in range(3)] for p in range(2)]
    outcomes = _run_workers(store, batches)
    race = [(kind, model_id) for kind, fingerprint, model_id in outcomes if fingerprint == "same"]
    winners = [model_id for kind, model_id in race if kind == "ok"]
    losers = [model_id for kind, model_id in race if kind == "duplicate"]
    assert len(winners) == 1 and losers == winners, outcomes
    distinct = [kind for kind, fingerprint, _ in outcomes if fingerprint != "same"]
    assert distinct == ["ok"] * 6, outcomes

    page, total = store.list(limit=100)
    assert total == 7
    assert store.get_by_fingerprint("same") == store.get(winners[0])
    assert files_in(store.models_dir) == {f"{r.id}.joblib" for r in page}


def test_two_processes_recording_the_same_trial_both_succeed(store: ModelStore) -> None:
    """Racing searches record one trial at once: neither fails, exactly one writes, its row stays."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    fingerprint = "ab" * 32
    procs = [
        ctx.Process(target=registry_workers.record_trial, args=(store.url, fingerprint, r2, barrier, results))
        for r2 in (0.1, 0.2)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert sorted(kind for kind, _, _ in outcomes) == ["ok", "ok"], outcomes
    winners = [r2 for _, r2, written in outcomes if written is True]
    assert len(winners) == 1, outcomes
    stored = TrialStore(store.database).scores([fingerprint], FULL_FIDELITY)
    assert stored == {fingerprint: TrialScore([{"fold": 1, "r2": winners[0]}], winners[0])}
