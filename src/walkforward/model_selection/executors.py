"""Where search tasks run: local worker processes (joblib/loky) or an existing Dask cluster.

One small interface, two implementations behind an explicit name -> factory mapping. Neither
schedules anything itself: loky and Dask do the distribution; the registry is the shared state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from walkforward.errors import InvalidInputError, WalkforwardError

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs ``fn(item, shared)`` for every item and yields results as they finish (any order).

    ``name`` says where tasks run (``local`` is this machine), ``n_jobs`` how many run at a time, and
    :meth:`joblib_backend` routes a scikit-learn search's own joblib calls to the same place.
    """

    name: str
    n_jobs: int

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


class DaskExecutor:
    """Tasks on an existing Dask cluster (``tcp://host:port``); ``shared`` is scattered once."""

    name = "dask"

    def __init__(self, scheduler: str | None = None) -> None:
        address = scheduler or os.environ.get("WALKFORWARD_DASK_SCHEDULER")
        if not address:
            raise InvalidInputError(
                "the dask executor needs a scheduler address: pass --scheduler tcp://host:8786 "
                "or set WALKFORWARD_DASK_SCHEDULER"
            )
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise WalkforwardError("the dask executor needs the 'distributed' package") from exc
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise WalkforwardError(
                f"cannot reach the Dask scheduler at {address} ({exc}): start one with "
                "`dask scheduler` and `dask worker`, or use --executor local"
            ) from None
        self.address = address
        self.n_jobs = max(1, sum(int(n) for n in self.client.nthreads().values()))

    def joblib_backend(self) -> contextlib.AbstractContextManager[Any]:
        from joblib import parallel_backend

        return parallel_backend("dask")

    def map_unordered(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> Iterator[Any]:
        from distributed import as_completed

        # A key of its own per call: with content-hashed keys (the default), a search that maps the same
        # inputs again (optuna's batches, halving's rungs) races the release of the previous call's copy
        # ("lost dependencies").
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        futures = self.client.map(fn, list(items), [shared_future] * len(items), pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()


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
