"""Who waits for which threads: blocking work of the API kept in separate queues.

FastAPI runs every ``def`` route and dependency in AnyIO's default thread pool (40 threads). Under a
burst of list requests all 40 queue work there, and the threads then contend for the GIL; a health
check queued behind them answered in 7-15 s. So:

- routes share a smaller default pool (:data:`ROUTE_THREADS`): enough to overlap database waits on
  2 cores, few enough that each thread gets the GIL often; more requests wait in the event loop;
- ``/health`` runs its checks on a pool of its own (:data:`HEALTH_THREADS`), with its own database
  connection (:meth:`walkforward.registry.Database.ping`), and gives up after
  :data:`HEALTH_TIMEOUT` seconds rather than hang (and most probes need no check at all:
  :mod:`walkforward.service.health_check`);
- heavy work (drawing a chart: seconds of CPU) runs on :data:`HEAVY_THREADS` threads, so it neither
  takes the routes' threads nor piles up.

The limiters belong to the running event loop, as AnyIO's default pool does (:func:`install` in the
lifespan, or on first use): a limiter waited on from two loops could miss a wake-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

#: Threads of AnyIO's default pool (``def`` routes and dependencies).
ROUTE_THREADS = 8
#: Threads for ``/health`` checks.
HEALTH_THREADS = 2
#: Threads for heavy work (charts).
HEAVY_THREADS = 1
#: Seconds a health check may take before the service reports itself degraded.
HEALTH_TIMEOUT = 5.0

T = TypeVar("T")


@dataclass(frozen=True)
class Capacity:
    """The thread limiters of one app instance."""

    health: anyio.CapacityLimiter
    heavy: anyio.CapacityLimiter


_LIMITERS: RunVar[Capacity] = RunVar("walkforward_capacity")


def install() -> Capacity:
    """Size the default pool and make the service's own limiters (in and for the running event loop)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS
    capacity = Capacity(health=anyio.CapacityLimiter(HEALTH_THREADS), heavy=anyio.CapacityLimiter(HEAVY_THREADS))
    _LIMITERS.set(capacity)
    return capacity


def _capacity() -> Capacity:
    try:
        return _LIMITERS.get()
    except LookupError:
        return install()


async def run_health_check(check: Callable[[], T], *, on_timeout: Callable[[], T]) -> T:
    """``check()`` on the health threads; ``on_timeout()`` if it takes longer than :data:`HEALTH_TIMEOUT`.

    A check that hangs (an unreachable database) keeps its thread, so the next checks time out too
    rather than queue forever.
    """
    with anyio.move_on_after(HEALTH_TIMEOUT):
        return await anyio.to_thread.run_sync(check, limiter=_capacity().health, abandon_on_cancel=True)
    return on_timeout()


async def run_heavy(work: Callable[[], T]) -> T:
    """``work()`` on the heavy-work threads (one at a time)."""
    return await anyio.to_thread.run_sync(work, limiter=_capacity().heavy)


__all__ = ["HEALTH_THREADS", "HEALTH_TIMEOUT", "HEAVY_THREADS", "ROUTE_THREADS", "Capacity", "install"]
