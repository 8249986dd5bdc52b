"""The JobStore contract on every backend (SQLite file, PostgreSQL): claims, reports, finishes, cancels, recovery."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from walkforward.registry import ModelStore
from walkforward.registry._schema import jobs as jobs_table
from walkforward.registry.jobs import LOG_KEEP_LINES, JobNotFoundError, JobStateError, JobStatus, JobStore
from walkforward.service.jobs import recover_jobs


@pytest.fixture()
def job_store(database_url: str, tmp_path: Path) -> Iterator[JobStore]:
    registry = ModelStore.open(database_url, tmp_path / "models")
    yield JobStore(registry.database)
    registry.dispose()


def test_create_get_list(job_store: JobStore) -> None:
    first = job_store.create("search", {"train": {"symbol": "AAPL"}, "grids": {"alpha_grid": [0.1]}})
    second = job_store.create("train", {"train": {"symbol": "QQQ"}}, resumed_from=first.id)
    assert first.status == "queued" and first.progress_done == 0 and first.log == ()
    assert job_store.get(first.id).request == {"train": {"symbol": "AAPL"}, "grids": {"alpha_grid": [0.1]}}
    assert job_store.get(second.id).resumed_from == first.id
    page, total = job_store.list(limit=1)
    assert total == 2 and [j.id for j in page] == [second.id]
    assert [j.id for j in job_store.list(status="queued", offset=1)[0]] == [first.id]
    with pytest.raises(JobNotFoundError, match="no job with id 'nope'"):
        job_store.get("nope")


def test_each_queued_job_is_claimed_once_by_racing_claimers(job_store: JobStore) -> None:
    created = {job_store.create("train", {"i": i}).id for i in range(6)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(host: str) -> None:
        while (job := job_store.claim_next(host=host)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"h{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(created)
    assert all(job_store.get(j).status == "running" for j in created)


def test_report_keeps_the_log_tail_and_finish_is_once(job_store: JobStore) -> None:
    job = job_store.create("search", {})
    assert job_store.claim_next(host="h") is not None
    job_store.attach_worker(job.id, 4242)
    lines = [f"line {i}" for i in range(LOG_KEEP_LINES + 30)]
    assert job_store.report(job.id, done=3, total=10, best=0.25, lines=lines) == "running"
    got = job_store.get(job.id)
    assert (got.progress_done, got.progress_total, got.best, got.worker_pid) == (3, 10, 0.25, 4242)
    assert len(got.log) == LOG_KEEP_LINES and got.log[-1] == lines[-1]
    assert job_store.finish(job.id, JobStatus.DONE, result={"model_ids": ["a"]}, lines=["done"])
    assert not job_store.finish(job.id, JobStatus.FAILED, error="late")
    final = job_store.get(job.id)
    assert final.status == "done" and final.result == {"model_ids": ["a"]} and final.finished_at is not None
    assert job_store.report(job.id, done=9) == "done"  # a late report changes nothing
    assert job_store.get(job.id).progress_done == 3


def test_cancel_queued_running_and_finished(job_store: JobStore) -> None:
    queued = job_store.create("train", {})
    assert job_store.request_cancel(queued.id).status == "cancelled"
    running = job_store.create("train", {})
    job_store.claim_next(host="h")
    cancelling = job_store.request_cancel(running.id)
    assert cancelling.status == "cancelling" and cancelling.cancel_requested_at is not None
    assert job_store.report(running.id, done=1) == "cancelling"  # how the worker learns of it
    assert job_store.finish(running.id, JobStatus.CANCELLED)
    with pytest.raises(JobStateError, match="already cancelled"):
        job_store.request_cancel(running.id)


def test_recovery_marks_jobs_of_dead_workers(job_store: JobStore, database_url: str) -> None:
    dead = job_store.create("search", {})
    job_store.claim_next(host="here")
    job_store.attach_worker(dead.id, 2**22 + 12345)  # no such process
    alive_elsewhere = job_store.create("search", {})
    job_store.claim_next(host="elsewhere")
    stale_elsewhere = job_store.create("search", {})
    job_store.claim_next(host="elsewhere")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    with job_store.database.transaction(write=True) as conn:
        conn.execute(sa.update(jobs_table).where(jobs_table.c.id == stale_elsewhere.id).values(heartbeat_at=old))
    queued = job_store.create("train", {})
    marked = recover_jobs(job_store, host="here", stale_after=60)
    assert sorted(marked) == sorted([dead.id, stale_elsewhere.id])
    interrupted = job_store.get(dead.id)
    assert interrupted.status == "interrupted" and f"POST /jobs/{dead.id}/resume" in (interrupted.error or "")
    assert job_store.get(alive_elsewhere.id).status == "running"
    assert job_store.get(queued.id).status == "queued"
