"""Open-loop HTTP load for the API benchmark: requests sent on a schedule, latency from the schedule.

A closed loop (N clients, each sending its next request when the last one answers) slows down with
the server and so hides its queueing: coordinated omission. Here request ``i`` is due at
``start + i / rate`` whatever happened before; at most ``max_in_flight`` are outstanding (a due
request waits for a slot, in the client), and its latency runs from when it was *due*, so time spent
waiting for the server or for a slot counts. ``/health`` is probed the same way on a connection of
its own. The server's memory is sampled from ``/proc/PID/status`` meanwhile.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: Query parameters of one list request, drawn by a :data:`Mix`.
Params = dict[str, str | int]
Mix = Callable[[random.Random], Params]


def list_mix(symbols: tuple[str, ...], algorithms: tuple[str, ...]) -> Mix:
    """What the UI asks: newest first or by a score, mostly the first page, some filtered.

    Sort: 40% default (``created_at``), 40% ``metrics.r2``, 20% ``cv_score``; 20% ascending. Offset: 0
    for 70%, else a page among the first 2,000 rows. Filter: 20% by symbol, 10% by algorithm. Page
    size 50.
    """

    def draw(rng: random.Random) -> Params:
        params: Params = {"limit": 50}
        pick = rng.random()
        if pick >= 0.4:
            params["sort"] = "metrics.r2" if pick < 0.8 else "cv_score"
        if rng.random() < 0.2:
            params["descending"] = "false"
        if rng.random() >= 0.7:
            params["offset"] = rng.randrange(50, 2000, 50)
        pick = rng.random()
        if pick < 0.2:
            params["symbol"] = rng.choice(symbols)
        elif pick < 0.3:
            params["algorithm"] = rng.choice(algorithms)
        return params

    return draw


@dataclass
class Run:
    """What one open-loop phase measured (seconds)."""

    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)  # from the scheduled time
    service: list[float] = field(default_factory=list)  # from the actual send
    health: list[float] = field(default_factory=list)
    errors: int = 0
    health_errors: int = 0
    unfinished: int = 0
    elapsed: float = 0.0
    rss_peak_kb: int = 0

    def summary(self) -> dict[str, Any]:
        def q(values: list[float]) -> dict[str, float]:
            if len(values) < 2:
                return {}
            ms = sorted(v * 1000 for v in values)
            cuts = statistics.quantiles(ms, n=100)
            return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ms[-1], "n": len(ms)}

        done = len(self.latencies)
        return {
            "rate": self.rate,
            "seconds": self.seconds,
            "throughput": done / self.elapsed if self.elapsed else 0.0,
            "latency_ms": q(self.latencies),
            "service_ms": q(self.service),
            "health_ms": q(self.health),
            "errors": self.errors,
            "health_errors": self.health_errors,
            "unfinished": self.unfinished,
            "rss_peak_mb": self.rss_peak_kb / 1024,
        }


def proc_status_kb(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` value in kB (``VmRSS``, ``VmHWM``); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def _sample_rss(pid: int, run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.rss_peak_kb = max(run.rss_peak_kb, proc_status_kb(pid, "VmRSS"))
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except TimeoutError:
            pass


async def _timed(client: httpx.AsyncClient, path: str, params: Params | None) -> tuple[float, bool]:
    sent = time.perf_counter()
    try:
        response = await client.get(path, params=params)
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    return time.perf_counter() - sent, ok


async def open_loop(
    base: str,
    *,
    path: str,
    mix: Mix,
    rate: float,
    seconds: float,
    pid: int,
    max_in_flight: int = 20,
    health_rate: float = 10.0,
    drain_seconds: float = 60.0,
    seed: int = 0,
) -> Run:
    """Send ``rate`` requests a second of ``GET path`` (``mix`` params) for ``seconds``; probe ``/health``."""
    run = Run(rate, seconds)
    rng = random.Random(seed)
    slots = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    stop = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client,
        httpx.AsyncClient(base_url=base, timeout=120) as prober,
    ):

        async def one(due: float, params: Params) -> None:
            async with slots:
                took, ok = await _timed(client, path, params)
            if ok:
                run.latencies.append(time.perf_counter() - due)
                run.service.append(took)
            else:
                run.errors += 1

        async def probe(due: float) -> None:
            took, ok = await _timed(prober, "/health", None)
            if ok:
                run.health.append(time.perf_counter() - due)
            else:
                run.health_errors += 1

        async def schedule(
            every: float, count: int, start: float, make: Callable[[float], Any]
        ) -> list[asyncio.Task[None]]:
            tasks = []
            for i in range(count):
                due = start + i * every
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(make(due)))
            return tasks

        sampler = asyncio.create_task(_sample_rss(pid, run, stop))
        start = time.perf_counter() + 0.05
        lists, probes = await asyncio.gather(
            schedule(1 / rate, int(rate * seconds), start, lambda due: one(due, mix(rng))),
            schedule(1 / health_rate, int(health_rate * seconds), start, probe),
        )
        done, pending = await asyncio.wait([*lists, *probes], timeout=drain_seconds)
        run.elapsed = time.perf_counter() - start
        for task in pending:
            task.cancel()
        run.unfinished = len([t for t in pending if t in set(lists)])
        stop.set()
        await sampler
    return run


async def wait_healthy(base: str, alive: Callable[[], bool], timeout: float = 120) -> None:
    """Poll ``/health`` until it answers 200 (``SystemExit`` if the server dies or never answers)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise SystemExit("the server exited before it was healthy")
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit(f"the server at {base} was not healthy within {timeout:.0f} s")
