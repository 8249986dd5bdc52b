"""The service's health, checked at most about once a second and answered without waiting for a check.

Probes come often and from many places (load balancers, orchestrators, the UI); each used to ask the
database on a thread. Here the latest report is answered as it is while it is under :data:`FRESH`
seconds old; an older one is answered too (up to :data:`MAX_AGE`) while a single check runs in the
background, so a probe costs one turn of the event loop: no thread, no database round trip. A
report older than :data:`MAX_AGE` (none yet, or the checks hang) is not trusted: the request waits
for a check, which gives up after :data:`~walkforward.service.capacity.HEALTH_TIMEOUT` (503).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from walkforward.service.capacity import run_health_check

#: (healthy, the report's body).
Report = tuple[bool, dict[str, Any]]
#: Seconds a report is answered without checking again.
FRESH = 1.0
#: Seconds a report may be answered while a check runs; older, a request waits for the check.
MAX_AGE = 3.0


@dataclass(frozen=True)
class _Checked:
    at: float  # time.monotonic()
    report: Report


class HealthCheck:
    """The latest report of ``check`` (run on the health threads), shared by every request."""

    def __init__(self, check: Callable[[], Report], on_timeout: Callable[[], Report]) -> None:
        self._check = check
        self._on_timeout = on_timeout
        self._latest: _Checked | None = None
        self._running: asyncio.Task[Report] | None = None

    async def report(self) -> Report:
        """The latest report if recent enough (a check starts in the background when it is not fresh)."""
        latest = self._latest
        age = time.monotonic() - latest.at if latest is not None else None
        if latest is not None and age is not None and age <= MAX_AGE:
            if age > FRESH:
                self._start()
            return latest.report
        return await asyncio.shield(self._start())

    def _start(self) -> asyncio.Task[Report]:
        running = self._running
        # A check of another event loop (a test client without its context runs one per request)
        # cannot be awaited here.
        if running is None or running.done() or running.get_loop() is not asyncio.get_running_loop():
            running = self._running = asyncio.ensure_future(self._run())
        return running

    async def _run(self) -> Report:
        ok, body = await run_health_check(self._check, on_timeout=self._on_timeout)
        report = (ok, {**body, "checked_at": dt.datetime.now(dt.UTC).isoformat()})
        self._latest = _Checked(time.monotonic(), report)
        return report


__all__ = ["FRESH", "MAX_AGE", "HealthCheck", "Report"]
