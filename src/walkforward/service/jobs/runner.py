"""The job runner: a thread of the web server that claims queued jobs and starts a worker process for each."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from walkforward.config import Settings
from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.model_selection.cleanup import sweep_quietly
from walkforward.registry import ModelStore
from walkforward.registry.jobs import ACTIVE, JobRecord, JobStatus, JobStore
from walkforward.service.jobs.recovery import interrupted_message, recover_jobs

log = logging.getLogger(__name__)

#: The module a worker process runs (``python -m WORKER_MODULE JOB_ID``).
WORKER_MODULE = "walkforward.service.jobs.worker"


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment of a job worker: this process's, with the settings spelled out."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "WALKFORWARD_DASK_SCHEDULER")}
    env.update(
        FEATURES_PARQUET_DIR=str(Path(settings.features_parquet_dir).resolve()),
        MODELS_DIR=str(Path(settings.models_dir).resolve()),
        METADATA_DB_URL=settings.database_url,
        LOG_LEVEL=settings.log_level,
    )
    if settings.walkforward_dask_scheduler:
        env["WALKFORWARD_DASK_SCHEDULER"] = settings.walkforward_dask_scheduler
    return env


class JobRunner:
    """Claims queued jobs and runs each in a worker process (``python -m`` :data:`WORKER_MODULE`), from a thread.

    Parameters
    ----------
    jobs, settings
        The job store and the settings the workers get.
    concurrency
        Worker processes at a time (each search may itself use every core).
    poll_interval
        Seconds between looks for queued jobs (:meth:`wake` looks at once).
    cancel_grace
        Seconds a worker gets to stop by itself after a cancel before it is killed.
    stale_after
        Heartbeat age after which a job of another host's worker counts as interrupted.
    """

    def __init__(
        self,
        jobs: JobStore,
        settings: Settings,
        *,
        concurrency: int = 1,
        poll_interval: float = 0.5,
        cancel_grace: float = 10.0,
        stale_after: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise InvalidInputError(f"invalid job concurrency {concurrency}: use 1 or more")
        self.jobs = jobs
        self.settings = settings
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.cancel_grace = cancel_grace
        self.stale_after = stale_after
        self.host = socket.gethostname()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_recovery = 0.0

    @property
    def running(self) -> list[str]:
        """Ids of the jobs this runner's workers are running."""
        return list(self._procs)

    def start(self) -> None:
        """Mark jobs of dead workers interrupted, then start looking for queued jobs."""
        recover_jobs(self.jobs, host=self.host, stale_after=self.stale_after)
        self._last_recovery = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="walkforward-job-runner", daemon=True)
        self._thread.start()
        log.info("job runner started (%d worker(s) at a time)", self.concurrency)

    def wake(self) -> None:
        """Look for queued jobs now (called after a submit)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; ask running workers to stop (they mark their jobs interrupted)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._reap()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except WalkforwardError as exc:
                log.warning("job runner: %s", exc)
            except Exception:
                log.exception("job runner: unexpected error (retrying)")
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def _tick(self) -> None:
        self._reap()
        self._enforce_cancels()
        if time.monotonic() - self._last_recovery > 10.0:
            recover_jobs(self.jobs, host=self.host, stale_after=self.stale_after)
            self._last_recovery = time.monotonic()
        while len(self._procs) < self.concurrency and not self._stop.is_set():
            job = self.jobs.claim_next(host=self.host)
            if job is None:
                break
            self._spawn(job)

    def _spawn(self, job: JobRecord) -> None:
        command = [sys.executable, "-m", WORKER_MODULE, job.id]
        try:
            proc = subprocess.Popen(command, env=worker_environment(self.settings), stdin=subprocess.DEVNULL)
        except OSError as exc:
            self.jobs.finish(job.id, JobStatus.FAILED, error=f"could not start a job worker: {exc}")
            return
        self._procs[job.id] = proc
        self.jobs.attach_worker(job.id, proc.pid)
        log.info("job %s: worker pid %d started", job.id, proc.pid)

    def _reap(self) -> None:
        ended = False
        for job_id, proc in list(self._procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self._procs[job_id]
            ended = True
            job = self.jobs.get(job_id)
            if job.status == JobStatus.CANCELLING:
                self.jobs.finish(job_id, JobStatus.CANCELLED, error="cancelled on request (worker stopped)")
            elif job.status in ACTIVE:
                if self._stop.is_set():
                    message = interrupted_message(job_id)
                    self.jobs.finish(job_id, JobStatus.INTERRUPTED, error=message, lines=[message])
                else:
                    self.jobs.finish(
                        job_id,
                        JobStatus.FAILED,
                        error=(
                            f"the job worker exited unexpectedly (exit code {code}); models it saved are kept: "
                            f"POST /jobs/{job_id}/resume to train what is missing"
                        ),
                    )
        if ended:
            self._sweep()

    def _sweep(self) -> None:
        """After a job: what its worker left if it was killed (pool files, temporary and orphan artifacts)."""
        sweep_quietly(ModelStore(self.jobs.database, self.settings.models_dir), "after a job")

    def _enforce_cancels(self) -> None:
        if not self._procs:
            return
        now = dt.datetime.now(dt.UTC)
        for job_id, proc in self._procs.items():
            job = self.jobs.get(job_id)
            if job.status != JobStatus.CANCELLING or job.cancel_requested_at is None:
                continue
            if (now - job.cancel_requested_at).total_seconds() > self.cancel_grace and proc.poll() is None:
                log.warning(
                    "job %s: worker did not stop within %.0f s of the cancel; killing it", job_id, self.cancel_grace
                )
                proc.kill()


__all__ = ["WORKER_MODULE", "JobRunner", "worker_environment"]
