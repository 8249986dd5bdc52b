"""Training and search jobs: validate and queue, run in a worker process, recover after a crash.

The lifecycle, with the state in the registry database (:class:`~walkforward.registry.jobs.JobStore`):

1. :func:`submit` validates a :class:`JobSpec` completely (so bad input is refused at once, not as
   a failed job later) and queues it.
2. A :class:`JobRunner` (a thread of the web server) claims queued jobs atomically and starts one
   ``python -m walkforward job-worker JOB_ID`` process per job, at most ``concurrency`` at a time.
3. The worker (:func:`run_job`) trains or searches with a progress callback that writes progress,
   the best score so far and log lines to the job row (at most every 0.5 s, plus a heartbeat every
   2 s), and stops when a cancel was requested; it ends the job as done, failed or cancelled.
4. Jobs whose worker died with its server are marked ``interrupted`` (:func:`recover_jobs`, run at
   start-up and periodically); :func:`resume` queues the same request again, and the search's
   fingerprints make it train only what is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from walkforward.config import Settings
from walkforward.domain import parse_symbols
from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.grids import GRID_PARAMETERS, grid_size, resolve_grid
from walkforward.models.catalog import AlgorithmSpec
from walkforward.registry import ModelStore
from walkforward.registry.jobs import ACTIVE, JobRecord, JobStateError, JobStatus, JobStore
from walkforward.reports import search_dict
from walkforward.search import STRATEGIES, SearchRequest, run_search
from walkforward.training import TrainRequest, train

log = logging.getLogger(__name__)

SEARCHES: tuple[str, ...] = ("none", *STRATEGIES)
#: Largest exhaustive grid accepted; halving and optuna sample, so they may span more.
MAX_GRID_COMBINATIONS = 100_000
MAX_SEARCH_SPACE = 1_000_000
RESUMABLE: tuple[str, ...] = (JobStatus.INTERRUPTED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobCancelled(Exception):
    """Raised inside a worker's progress callback when the job's cancel was requested."""


class JobInterrupted(BaseException):
    """Raised in a worker when it is told to stop (SIGTERM): its server is shutting down."""


def interrupted_message(job_id: str) -> str:
    return (
        f"the server stopped while job {job_id} was running; models saved so far are kept: "
        f"POST /jobs/{job_id}/resume to train only what is missing"
    )


# ---------------------------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class JobSpec:
    """What a job does: one training run (``search="none"``) or a hyperparameter search.

    Examples
    --------
    >>> spec = JobSpec(TrainRequest("AAPL,QQQ,VIX", "elasticnet_regression"), search="grid",
    ...                grids={"alpha_grid": [0.001, 0.01]})
    >>> spec.kind
    'search'
    """

    train: TrainRequest
    search: str = "none"
    grids: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    use_default_grid: bool = True
    n_trials: int = 40
    save_all_grid_models: bool = False
    explain: bool = True

    @property
    def kind(self) -> str:
        return "train" if self.search == "none" else "search"

    def search_request(self) -> SearchRequest:
        return SearchRequest(
            train=self.train,
            grids={k: list(v) for k, v in self.grids.items()},
            search=self.search,
            n_trials=self.n_trials,
            save_all_grid_models=self.save_all_grid_models,
            explain=self.explain,
            use_default_grid=self.use_default_grid,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.to_dict(),
            "search": self.search,
            "grids": {k: list(v) for k, v in self.grids.items()},
            "use_default_grid": self.use_default_grid,
            "n_trials": self.n_trials,
            "save_all_grid_models": self.save_all_grid_models,
            "explain": self.explain,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        raw = dict(data["train"])
        if raw.get("feature_whitelist") is not None:
            raw["feature_whitelist"] = tuple(raw["feature_whitelist"])
        fields = {k: v for k, v in data.items() if k != "train" and k in cls.__dataclass_fields__}
        return cls(train=TrainRequest(**raw), **fields)

    def validate(self, store: FeatureStore) -> None:
        """Everything that can be checked before loading data; raises :class:`InvalidInputError`."""
        if self.search not in SEARCHES:
            raise InvalidInputError(f"unknown search {self.search!r}: use one of {', '.join(SEARCHES)}")
        if self.search == "none":
            if self.grids:
                raise InvalidInputError(
                    f"grid parameters ({', '.join(sorted(self.grids))}) need a search: "
                    f"set search to one of {', '.join(STRATEGIES)}, or pass hyperparameters for one run"
                )
            spec = self.train.validate()
            _check_values(spec, dict(self.train.hyperparameters))
        else:
            spec = self.search_request().validate()
            grid = resolve_grid(self.train.algorithm, self.grids, use_defaults=self.use_default_grid)
            size = grid_size(grid)
            limit = MAX_GRID_COMBINATIONS if self.search == "grid" else MAX_SEARCH_SPACE
            if size > limit:
                raise InvalidInputError(
                    f"the grid has {size:,} combinations, more than {limit:,} for search={self.search}: "
                    "pass fewer values, use_default_grid=false, or search=halving / optuna"
                )
            fixed = dict(self.train.hyperparameters)
            _check_values(spec, fixed)
            for name in self.grids:
                param = GRID_PARAMETERS[name][1]
                for value in grid[param]:
                    _check_values(spec, {**fixed, param: value}, where=name)
        _check_symbols(self.train.symbol, store)


def _check_values(spec: AlgorithmSpec, params: Mapping[str, Any], where: str = "hyperparameters") -> None:
    """Let scikit-learn judge parameter values now (a bad ``alpha`` would otherwise fail the job later)."""
    estimator = spec.build(params)
    validate: Callable[[], None] | None = getattr(estimator, "_validate_params", None)
    if validate is None or not hasattr(estimator, "_parameter_constraints"):  # only scikit-learn's own declare them
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"invalid {where} for {spec.name}: {exc}") from None


def _check_symbols(symbol: str, store: FeatureStore) -> None:
    wanted = parse_symbols(symbol)
    held = store.symbols()
    missing = [s for s in wanted if s not in held]
    if missing:
        holds = ", ".join(held[:20]) if held else "nothing yet"
        raise InvalidInputError(
            f"unknown symbol(s) {', '.join(missing)}: the feature store holds {holds}; "
            "ingest the bars first (`walkforward ingest FILE`) or fix the symbol"
        )


def submit(spec: JobSpec, *, jobs: JobStore, store: FeatureStore) -> JobRecord:
    """Validate ``spec`` and queue it; the returned job is ``queued``."""
    spec.validate(store)
    return jobs.create(spec.kind, spec.to_dict())


def resume(job_id: str, *, jobs: JobStore, store: FeatureStore) -> JobRecord:
    """Queue a new job with the request of an interrupted, failed or cancelled one.

    Raises
    ------
    JobStateError
        The job is queued, running or done.
    """
    old = jobs.get(job_id)
    if old.status not in RESUMABLE:
        hint = "it is done: submit a new job to train more" if old.status == JobStatus.DONE else "wait for it to end"
        raise JobStateError(f"job {job_id} is {old.status}: only {', '.join(RESUMABLE)} jobs can be resumed ({hint})")
    spec = JobSpec.from_dict(old.request)
    spec.validate(store)
    return jobs.create(old.kind, old.request, resumed_from=old.id)


# ---------------------------------------------------------------------------------------------- the worker


class _Reporter:
    """Buffers progress and log lines of a running job and writes them to its row, throttled."""

    def __init__(self, jobs: JobStore, job_id: str, *, min_interval: float = 0.5, heartbeat: float = 2.0) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._progress: tuple[int | None, int | None, float | None] = (None, None, None)
        self._last_flush = 0.0
        self._last_line = ""
        self.cancelled = False
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
            self._lines.append(f"{stamp} {text}")

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
        if status == JobStatus.CANCELLING:
            self.cancelled = True

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


def execute(spec: JobSpec, *, store: FeatureStore, registry: ModelStore, reporter: _Reporter) -> dict[str, Any]:
    """Run a job's training or search in this process; return its JSON result."""
    if spec.kind == "train":
        started = dt.datetime.now(dt.UTC)
        record = train(
            spec.train,
            store=store,
            registry=registry,
            explain=spec.explain,
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
        }
    result = run_search(spec.search_request(), store=store, registry=registry, progress=reporter.progress)
    out = search_dict(result)
    saved = out.pop("saved")
    out.update(
        kind="search",
        model_ids=[m["id"] for m in saved],
        saved=len(saved),
        best_model_id=result.best.id if result.best else None,
        best_score=result.best.cv_score if result.best else None,
    )
    return out


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise JobInterrupted()


def run_job(job_id: str, settings: Settings) -> int:
    """The body of ``walkforward job-worker JOB_ID``: run a claimed job and record how it ended.

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
        reporter = _Reporter(jobs, job_id)
        handler = _JobLogHandler(reporter)
        package_logger = logging.getLogger("walkforward")
        package_logger.addHandler(handler)
        if package_logger.getEffectiveLevel() > logging.INFO:
            package_logger.setLevel(logging.INFO)
        signal.signal(signal.SIGTERM, _on_sigterm)
        reporter.start()
        reporter.line(f"worker pid {os.getpid()} on {socket.gethostname()} started the {job.kind} job")
        try:
            spec = JobSpec.from_dict(job.request)
            result = execute(
                spec, store=FeatureStore(settings.features_parquet_dir), registry=registry, reporter=reporter
            )
        except JobCancelled:
            jobs.finish(job_id, JobStatus.CANCELLED, error="cancelled on request", lines=reporter.take_lines())
        except (JobInterrupted, KeyboardInterrupt):
            message = interrupted_message(job_id)
            jobs.finish(job_id, JobStatus.INTERRUPTED, error=message, lines=[*reporter.take_lines(), message])
        except WalkforwardError as exc:
            jobs.finish(job_id, JobStatus.FAILED, error=str(exc), lines=[*reporter.take_lines(), f"ERROR {exc}"])
        except Exception as exc:
            log.exception("job %s failed", job_id)
            error = (
                f"the job failed unexpectedly ({type(exc).__name__}: {str(exc)[:300]}); "
                "the traceback is in the job's log"
            )
            jobs.finish(job_id, JobStatus.FAILED, error=error, lines=[*reporter.take_lines(), traceback.format_exc()])
        else:
            reporter.flush()  # the last progress call may have been throttled
            done_line = "done: " + "; ".join(result.get("notes", []))
            jobs.finish(job_id, JobStatus.DONE, result=result, lines=[*reporter.take_lines(), done_line])
        finally:
            reporter.stop()
            package_logger.removeHandler(handler)
        return 0
    finally:
        registry.dispose()


# ---------------------------------------------------------------------------------------------- recovery


def _pid_alive(pid: int, job_id: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process running ``job_id``'s worker."""
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and job_id.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_jobs(jobs: JobStore, *, host: str, stale_after: float = 60.0) -> list[str]:
    """Mark active jobs whose worker is gone as ``interrupted`` (or ``cancelled`` if cancelling).

    A worker on this host is gone when its process is; on another host, when its heartbeat is older
    than ``stale_after`` seconds. Returns the ids of the jobs marked.
    """
    now = dt.datetime.now(dt.UTC)
    marked = []
    for job in jobs.active():
        stale = job.heartbeat_at is None or (now - job.heartbeat_at).total_seconds() > stale_after
        if job.worker_host == host and job.worker_pid is not None:
            dead = not _pid_alive(job.worker_pid, job.id)
        else:
            dead = stale
        if not dead:
            continue
        if job.status == JobStatus.CANCELLING:
            ok = jobs.finish(job.id, JobStatus.CANCELLED, error="cancelled; its worker had stopped")
        else:
            message = interrupted_message(job.id)
            ok = jobs.finish(job.id, JobStatus.INTERRUPTED, error=message, lines=[message])
        if ok:
            log.warning(
                "job %s: its worker is gone; marked %s",
                job.id,
                "cancelled" if job.status == "cancelling" else "interrupted",
            )
            marked.append(job.id)
    return marked


# ---------------------------------------------------------------------------------------------- the runner


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment of a job worker: this process's, with the settings spelled out."""
    env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
    env.update(
        FEATURES_PARQUET_DIR=str(Path(settings.features_parquet_dir).resolve()),
        MODELS_DIR=str(Path(settings.models_dir).resolve()),
        METADATA_DB_URL=settings.database_url,
        LOG_LEVEL=settings.log_level,
    )
    return env


class JobRunner:
    """Claims queued jobs and runs each in a ``walkforward job-worker`` process (a background thread).

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
        command = [sys.executable, "-m", "walkforward", "job-worker", job.id]
        try:
            proc = subprocess.Popen(command, env=worker_environment(self.settings), stdin=subprocess.DEVNULL)
        except OSError as exc:
            self.jobs.finish(job.id, JobStatus.FAILED, error=f"could not start a job worker: {exc}")
            return
        self._procs[job.id] = proc
        self.jobs.attach_worker(job.id, proc.pid)
        log.info("job %s: worker pid %d started", job.id, proc.pid)

    def _reap(self) -> None:
        for job_id, proc in list(self._procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self._procs[job_id]
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


__all__ = [
    "MAX_GRID_COMBINATIONS",
    "SEARCHES",
    "JobCancelled",
    "JobRunner",
    "JobSpec",
    "execute",
    "recover_jobs",
    "resume",
    "run_job",
    "submit",
]
