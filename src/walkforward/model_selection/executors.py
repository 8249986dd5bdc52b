"""Where search tasks run: local worker processes (joblib/loky) or an existing Dask cluster.

One small interface, two implementations behind an explicit name -> factory mapping. Neither
schedules anything itself: loky and Dask do the distribution; the registry is the shared state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from walkforward.errors import InvalidInputError, WalkforwardError

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs ``fn(item, shared)`` for every item and yields results as they finish (any order).

    ``name`` says where tasks run (``local`` is this machine), ``n_jobs`` how many run at a time, and
    :meth:`joblib_backend` routes a scikit-learn search's own joblib calls to the same place.
    """

    name: str
    n_jobs: int

    @property
    def where(self) -> str:
        """Where tasks run, for logs and job results (``local (2 processes)``, ``dask tcp://host:8786``)."""
        ...

    def joblib_backend(self) -> contextlib.AbstractContextManager[Any]: ...

    def map_unordered(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Iterator[Any]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Worker processes on this machine (joblib's loky backend); ``n_jobs=1`` runs in-process.

    The executor owns what its pool puts in shared memory for its lifetime: memmaps go to a run
    folder of its own (:func:`~walkforward.model_selection.cleanup.make_run_folder`), made on first
    use. :meth:`close` closes any unfinished task stream (joblib then aborts: it kills the workers
    and deletes their memmaps, as it does for an exception or KeyboardInterrupt while waiting) and
    removes the run folder. The idle workers of a finished stream stay in joblib's reusable pool
    (shared with scikit-learn's own ``n_jobs``) and exit after its idle timeout or with the process.
    """

    name = "local"

    def __init__(self, n_jobs: int | None = None) -> None:
        self.n_jobs = n_jobs or max(1, os.cpu_count() or 1)
        self._folder: Path | None = None
        self._streams: weakref.WeakSet[Generator[Any, None, None]] = weakref.WeakSet()

    @property
    def where(self) -> str:
        return f"local ({self.n_jobs} process{'es' if self.n_jobs > 1 else ''})"

    def _temp_folder(self) -> str:
        if self._folder is None:
            from walkforward.model_selection.cleanup import make_run_folder

            self._folder = make_run_folder()
        return str(self._folder)

    def map_unordered(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Iterator[Any]:
        if self.n_jobs == 1 or len(items) <= 1:
            return (fn(item, shared) for item in items)
        stream = self._stream(fn, items, shared)
        self._streams.add(stream)
        return stream

    def _stream(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Generator[Any, None, None]:
        from joblib import Parallel, delayed

        # Large arrays in ``shared`` are memory-mapped to the workers by joblib, not copied per task.
        parallel = Parallel(
            n_jobs=self.n_jobs, backend="loky", return_as="generator_unordered", temp_folder=self._temp_folder()
        )
        yield from parallel(delayed(fn)(item, shared) for item in items)

    def joblib_backend(self) -> contextlib.AbstractContextManager[Any]:
        from joblib import parallel_config

        # scikit-learn's own n_jobs (the halving search) memory-maps into the same run folder.
        return parallel_config(temp_folder=self._temp_folder())

    def close(self) -> None:
        for stream in list(self._streams):
            stream.close()  # GeneratorExit inside joblib's Parallel: it kills the workers and cleans up
        self._streams.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


#: Dask's default scheduler port (an address without one gets it, as ``dask worker HOST`` does).
DASK_PORT = 8786
#: Seconds a Dask search waits for a result before it looks whether the cluster still has workers.
_DASK_POLL_SECONDS = 10.0


class SchedulerUnreachableError(WalkforwardError):
    """The configured Dask scheduler does not answer (the API refuses new searches with 503)."""


class WorkerLostError(WalkforwardError):
    """A Dask worker died (or the scheduler went away) while it ran search tasks; what finished is kept."""


class TasksCancelled(WalkforwardError):
    """The executor's tasks were cancelled on request (:meth:`DaskExecutor.cancel`)."""


def scheduler_endpoint(address: str) -> tuple[str, int] | None:
    """Host and port of a Dask scheduler address (``tcp://host:8786``, ``tls://...``, ``host:port``).

    ``None`` for an in-process (``inproc://``) scheduler, which has no socket to check.

    >>> scheduler_endpoint("tcp://10.0.0.5:8786")
    ('10.0.0.5', 8786)
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return None
    try:
        host, port = parts.hostname, parts.port or DASK_PORT
    except ValueError:
        host = None
    if not host or parts.path not in ("", "/"):
        raise InvalidInputError(f"invalid Dask scheduler address {address!r}: use tcp://host:{DASK_PORT}")
    return host, port


def unreachable_message(address: str, reason: str) -> str:
    """The one line shown when the scheduler at ``address`` does not answer."""
    return (
        f"cannot reach the Dask scheduler at {address} ({reason}): start it (`dask scheduler`, then "
        f"`dask worker {address} --nthreads 1 --nworkers N`) or run searches on this machine "
        "(`--executor local`; for the API, unset WALKFORWARD_DASK_SCHEDULER)"
    )


def check_scheduler(address: str, timeout: float = 2.0) -> None:
    """Raise :class:`SchedulerUnreachableError` unless a TCP connection to the scheduler opens within ``timeout`` s.

    A plain socket, not a Dask client: it answers in milliseconds and keeps ``distributed`` out of the
    web server's imports; the job worker's client does the full handshake.
    """
    endpoint = scheduler_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise SchedulerUnreachableError(unreachable_message(address, reason)) from None


class DaskExecutor:
    """Tasks on an existing Dask cluster (``tcp://host:port``); ``shared`` is scattered once per task stream.

    Failures end a stream with one of our errors: :class:`WorkerLostError` when a worker died while
    it held the stream's tasks or data (Dask retries a task on another worker first, up to its
    ``distributed.scheduler.allowed-failures``) or the scheduler went away, :class:`TasksCancelled`
    after :meth:`cancel`. A stream's unfinished futures are cancelled whenever it ends, so the
    cluster forgets them. Workers should run one thread each (``dask worker ADDRESS --nthreads 1``):
    the boosters are built with ``n_jobs=1``, and more threads per worker only contend for cores.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, *, connect_timeout: float = 10.0) -> None:
        if not scheduler:
            raise InvalidInputError(
                "the dask executor needs a scheduler address: pass --scheduler tcp://host:8786 "
                "or set WALKFORWARD_DASK_SCHEDULER"
            )
        check_scheduler(scheduler)  # a clear line in 2 s, not a client retrying for its whole timeout
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise WalkforwardError("the dask executor needs the 'distributed' package") from exc
        try:
            self.client = Client(scheduler, timeout=f"{connect_timeout}s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachableError(unreachable_message(scheduler, str(exc))) from None
        self.address = scheduler
        threads = self.client.nthreads()
        self.n_jobs = max(1, sum(int(n) for n in threads.values()))
        self._lock = threading.Lock()
        self._running: list[Any] = []
        self._cancelled = False
        if threads:
            log.info("Dask scheduler %s: %d worker(s), %d thread(s)", scheduler, len(threads), self.n_jobs)
        else:
            log.warning("Dask scheduler %s has no workers yet: start `dask worker %s --nthreads 1`", *[scheduler] * 2)

    @property
    def where(self) -> str:
        """Where tasks run, for logs and job results (``dask tcp://host:8786``)."""
        return f"dask {self.address}"

    def joblib_backend(self) -> contextlib.AbstractContextManager[Any]:
        from joblib import parallel_backend

        return parallel_backend("dask", client=self.client)

    def map_unordered(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Iterator[Any]:
        if self._cancelled:
            raise TasksCancelled("the search's tasks were cancelled")
        return self._stream(fn, items, shared)

    def _stream(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Generator[Any, None, None]:
        from distributed import wait

        try:
            # A key of its own per call: with content-hashed keys (the default), a search that maps the same
            # inputs again (optuna's batches, halving's rungs) races the release of the previous call's copy
            # ("lost dependencies").
            shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        except TimeoutError:  # the scheduler found no worker to hold the data within the client's timeout
            raise WorkerLostError(
                f"the Dask cluster at {self.address} has no workers: start some with "
                f"`dask worker {self.address} --nthreads 1 --nworkers N`, then run the search again"
            ) from None
        futures = self.client.map(fn, list(items), [shared_future] * len(items), pure=False)
        with self._lock:
            self._running.extend(futures)
        try:
            pending = set(futures)
            while pending:
                try:
                    with self.client.as_current():
                        done, pending = wait(list(pending), timeout=_DASK_POLL_SECONDS, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    self._check_workers(len(pending))
                    continue
                except CancelledError as exc:
                    raise self._lost(exc) from None
                # Results first: what finished is saved before a failed task ends the stream.
                for future in sorted(done, key=lambda f: f.status != "finished"):
                    yield self._result(future)
        finally:
            self.client.cancel(futures)
            with self._lock:
                self._running = [f for f in self._running if f not in futures]

    def _result(self, future: Any) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            worker = getattr(getattr(exc, "last_worker", None), "address", "a worker")
            raise WorkerLostError(
                f"a Dask worker died while it ran a search task ({worker}; Dask retries a task on another worker "
                f"{exc.allowed_failures} time(s) before it gives up): models finished so far are saved, and "
                "running the same search again trains only what is missing"
            ) from None
        except CancelledError as exc:
            raise self._lost(exc) from None
        except Exception as exc:
            if type(exc).__name__ != "NoValidWorkerError":  # the scheduler's no-workers-timeout, when set
                raise
            raise WorkerLostError(
                f"no Dask worker of {self.address} took a search task in time (the scheduler's "
                f"no-workers-timeout): start workers with `dask worker {self.address} --nthreads 1`; "
                "models finished so far are saved, and running the same search again trains only what is missing"
            ) from None

    def _lost(self, exc: BaseException) -> WalkforwardError:
        if self._cancelled:
            return TasksCancelled("the search's tasks were cancelled")
        # One future (FutureCancelledError.reason) or several (FuturesCancelledError's groups, by reason).
        groups = getattr(exc, "error_groups", None) or [exc]
        reasons = sorted({str(getattr(g, "reason", None) or "unknown") for g in groups})
        return WorkerLostError(
            f"the Dask cluster at {self.address} dropped the search's tasks ({', '.join(reasons)}: a worker died "
            "with their data, or the scheduler stopped): models finished so far are saved, and running the same "
            "search again trains only what is missing"
        )

    def _check_workers(self, waiting: int) -> None:
        if not self.client.scheduler_info()["workers"]:
            log.warning(
                "the Dask cluster at %s has no workers: %d task(s) wait for one (start `dask worker %s --nthreads 1`)",
                self.address,
                waiting,
                self.address,
            )

    def cancel(self) -> None:
        """Cancel the running tasks (from any thread): the stream ends with :class:`TasksCancelled`."""
        self._cancelled = True
        with self._lock:
            running = list(self._running)
        if running:
            log.info("cancel requested: cancelling %d task(s) on the Dask cluster at %s", len(running), self.address)
            self.client.cancel(running)

    def close(self) -> None:
        self.client.close()  # the scheduler forgets every future of this client


EXECUTORS: dict[str, Callable[..., Executor]] = {
    "local": lambda scheduler=None, n_jobs=None: LocalExecutor(n_jobs=n_jobs),
    "dask": lambda scheduler=None, n_jobs=None: DaskExecutor(scheduler=scheduler),
}


def make_executor(name: str, *, scheduler: str | None = None, n_jobs: int | None = None) -> Executor:
    """An executor by name (``local`` or ``dask``)."""
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise InvalidInputError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}") from None
    return factory(scheduler=scheduler, n_jobs=n_jobs)
