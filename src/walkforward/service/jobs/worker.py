"""The job worker: runs one claimed job in its own process and records how it ended.

Started by :class:`~walkforward.service.jobs.runner.JobRunner` as
``python -m walkforward.service.jobs.worker JOB_ID`` with the settings in its environment. It trains,
searches or retrains (:mod:`.retrain`) with a progress callback that writes progress, the best score
so far and log lines to the job row (at most every 0.5 s, plus a heartbeat every 2 s), stops when a
cancel was requested, and ends the job as done, failed, cancelled or (on SIGTERM) interrupted.

A search's tasks run where the settings say: on the Dask cluster of ``WALKFORWARD_DASK_SCHEDULER``
(this process is its client, and a cancel seen by the heartbeat cancels the cluster's tasks at once),
or in local worker processes. The job's log and result name the place (``executor: dask tcp://...``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from walkforward.config import Settings, load_settings
from walkforward.errors import WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import (
    DaskExecutor,
    Executor,
    LocalExecutor,
    TasksCancelled,
    WorkerLostError,
)
from walkforward.redaction import redact_paths, store_roots
from walkforward.registry import ModelStore
from walkforward.registry.jobs import ACTIVE, JobStatus, JobStore
from walkforward.reports import search_dict
from walkforward.request import SearchRequest
from walkforward.search import run_search
from walkforward.service.jobs.recovery import interrupted_message
from walkforward.service.jobs.retrain import KINDS, execute_retrain
from walkforward.service.jobs.spec import job_request
from walkforward.shutdown import settle_heap
from walkforward.training import train

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a worker's progress callback when the job's cancel was requested."""


class JobInterrupted(BaseException):
    """Raised in a worker when it is told to stop (SIGTERM): its server is shutting down."""


class _Reporter:
    """Buffers progress and log lines of a running job and writes them to its row, throttled."""

    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        *,
        min_interval: float = 0.5,
        heartbeat: float = 2.0,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.jobs = jobs
        self.redact = redact  # the log is shown by the API: no absolute server paths in it
        self.job_id = job_id
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._progress: tuple[int | None, int | None, float | None] = (None, None, None)
        self._last_flush = 0.0
        self._last_line = ""
        self.cancelled = False
        self.on_cancel: Callable[[], None] | None = None  # called once, when a cancel is first seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id[:8]}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def line(self, text: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        with self._lock:
            self._lines.append(f"{stamp} {self.redact(text)}")

    def take_lines(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def progress(self, done: int, total: int, best: float | None, msg: str) -> None:
        """The progress callback: record, write at most every ``min_interval`` s, stop if cancelled."""
        if self.cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")
        with self._lock:
            self._progress = (done, total, best)
        text = f"{msg} {done}/{total}" + ("" if best is None else f", best so far {best:.5g}")
        now = time.monotonic()
        if now - self._last_flush >= self.min_interval:
            if text != self._last_line:
                self.line(text)
                self._last_line = text
            self.flush()
        if self.cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def flush(self) -> None:
        with self._lock:
            done, total, best = self._progress
            lines, self._lines = self._lines, []
            self._last_flush = time.monotonic()
        status = self.jobs.report(self.job_id, done=done, total=total, best=best, lines=lines)
        if status == JobStatus.CANCELLING and not self.cancelled:
            self.cancelled = True
            if self.on_cancel is not None:
                self.on_cancel()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self.flush()
            except Exception as exc:  # a lost heartbeat must not kill the job; the next one may pass
                sys.stderr.write(f"job {self.job_id}: heartbeat failed: {exc}\n")


class _JobLogHandler(logging.Handler):
    """Sends the library's log records of a worker to its job's log."""

    def __init__(self, reporter: _Reporter) -> None:
        super().__init__(level=logging.INFO)
        self.reporter = reporter
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.line(self.format(record))
        except Exception:
            self.handleError(record)


#: Where a single training run happens (it needs no executor).
IN_WORKER = "local (the job worker)"


def make_job_executor(settings: Settings) -> Executor:
    """The executor of a search job: the settings' Dask cluster, or local worker processes."""
    if settings.walkforward_dask_scheduler:
        return DaskExecutor(settings.walkforward_dask_scheduler)
    return LocalExecutor()


def execute(
    req: SearchRequest,
    *,
    store: FeatureStore,
    registry: ModelStore,
    reporter: _Reporter,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run a job's training (in this process) or search (on ``executor``); return its JSON result."""
    if req.kind == "train":
        started = dt.datetime.now(dt.UTC)
        record = train(
            req.training(),
            store=store,
            registry=registry,
            progress=lambda msg, done, total: reporter.progress(done, total, None, msg),
        )
        existed = record.created_at < started
        note = "1/1 already exist, training 0" if existed else "0/1 already exist, training 1"
        reporter.line(note)
        return {
            "kind": "train",
            "model_id": record.id,
            "model_ids": [record.id],
            "cohort_id": record.cohort_id,
            "best_score": record.cv_score,
            "existing": int(existed),
            "trained": int(not existed),
            "notes": [note],
            "executor": IN_WORKER,
        }
    result = run_search(req, store=store, registry=registry, progress=reporter.progress, executor=executor)
    out = search_dict(result)
    saved = out.pop("saved")
    out.update(
        kind="search",
        model_ids=[m["id"] for m in saved],
        saved=len(saved),
        best_model_id=result.best.id if result.best else None,
        best_score=result.best.cv_score if result.best else None,
        executor=executor.where if executor is not None else LocalExecutor().where,
    )
    return out


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise JobInterrupted()


def run_job(job_id: str, settings: Settings) -> int:
    """The body of a worker process: run a claimed job and record how it ended.

    Returns the process exit code (0 when the job's outcome was recorded, whatever it was).
    """
    registry = ModelStore.open(settings.database_url, settings.models_dir)
    jobs = JobStore(registry.database)
    try:
        job = jobs.get(job_id)
        if job.status not in ACTIVE:
            log.warning("job %s is %s, not running: nothing to do", job_id, job.status)
            return 1
        jobs.attach_worker(job_id, os.getpid())
        clean = functools.partial(redact_paths, roots=store_roots(settings))
        reporter = _Reporter(jobs, job_id, redact=clean)
        handler = _JobLogHandler(reporter)
        package_logger = logging.getLogger("walkforward")
        package_logger.addHandler(handler)
        if package_logger.getEffectiveLevel() > logging.INFO:
            package_logger.setLevel(logging.INFO)
        signal.signal(signal.SIGTERM, _on_sigterm)
        reporter.start()
        reporter.line(f"worker pid {os.getpid()} on {socket.gethostname()} started the {job.kind} job")
        executor: Executor | None = None
        try:
            if job.kind == "search":
                executor = make_job_executor(settings)
                if isinstance(executor, DaskExecutor):
                    reporter.on_cancel = executor.cancel
            reporter.line(f"executor: {executor.where if executor is not None else IN_WORKER}")
            store = FeatureStore(settings.features_parquet_dir, lockbox_start=settings.walkforward_lockbox_start)
            if job.kind in KINDS:
                result = execute_retrain(
                    job.kind, job.request, store=store, registry=registry, progress=reporter.progress
                )
                result["executor"] = IN_WORKER
            else:
                result = execute(job_request(job), store=store, registry=registry, reporter=reporter, executor=executor)
        except (JobCancelled, TasksCancelled):
            jobs.finish(job_id, JobStatus.CANCELLED, error="cancelled on request", lines=reporter.take_lines())
        except (JobInterrupted, KeyboardInterrupt):
            message = interrupted_message(job_id)
            jobs.finish(job_id, JobStatus.INTERRUPTED, error=message, lines=[*reporter.take_lines(), message])
        except WorkerLostError as exc:
            error = clean(f"{exc} (POST /jobs/{job_id}/resume)")
            jobs.finish(job_id, JobStatus.FAILED, error=error, lines=[*reporter.take_lines(), f"ERROR {error}"])
        except WalkforwardError as exc:
            error = clean(str(exc))
            jobs.finish(job_id, JobStatus.FAILED, error=error, lines=[*reporter.take_lines(), f"ERROR {error}"])
        except Exception as exc:
            log.exception("job %s failed", job_id)
            error = clean(
                f"the job failed unexpectedly ({type(exc).__name__}: {str(exc)[:300]}); "
                "the traceback is in the job's log"
            )
            lines = [*reporter.take_lines(), clean(traceback.format_exc())]
            jobs.finish(job_id, JobStatus.FAILED, error=error, lines=lines)
        else:
            reporter.flush()  # the last progress call may have been throttled
            done_line = "done: " + "; ".join(result.get("notes", []))
            jobs.finish(job_id, JobStatus.DONE, result=result, lines=[*reporter.take_lines(), done_line])
        finally:
            if executor is not None:
                executor.close()  # a Dask client's close makes the scheduler forget its tasks
            reporter.stop()
            package_logger.removeHandler(handler)
        return 0
    finally:
        registry.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job named on the command line with the settings of the environment; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m walkforward.service.jobs.worker",
        description="Run one claimed job (started by the server's job runner, not by hand).",
    )
    parser.add_argument("job_id", help="The id of a running job.")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(levelname)s job {args.job_id[:8]} worker %(process)d: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter is not news to a user
    return run_job(args.job_id, settings)


__all__ = ["IN_WORKER", "JobCancelled", "execute", "main", "make_job_executor", "run_job"]


if __name__ == "__main__":
    try:
        code = main()
    finally:
        settle_heap()  # the job is recorded; the process exits next (see walkforward.shutdown)
    raise SystemExit(code)
