"""Open-loop HTTP load for the API benchmark: requests sent on a schedule, latency from the schedule.

A closed loop (N clients, each sending its next request when the last one answers) slows down with
the server and so hides its queueing: coordinated omission. Here request ``i`` is due at
``start + i / rate`` whatever happened before; at most ``max_in_flight`` are outstanding (a due
request waits for a slot, in the client), and its latency runs from when it was *due*, so time spent
waiting for the server or for a slot counts. ``/health`` is probed the same way by a process of its
own (as a monitor would: the load generator's event loop, busy with 50 answers a second, would
delay the probes' own answers). The server's memory is sampled from ``/proc/PID/status`` meanwhile.

    python bench/api_load.py probe BASE RATE SECONDS START   # the prober (START: time.monotonic())
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
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
    ends: list[float] = field(default_factory=list)  # completion times, from the first due time
    errors: int = 0
    health_errors: int = 0
    unfinished: int = 0
    elapsed: float = 0.0
    rss_peak_kb: int = 0
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end

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
            # Answers within the scheduled window, a second: what the server kept up with.
            "served_in_window": sum(1 for t in self.ends if t <= self.seconds) / self.seconds,
            "load_average": self.load_average,
            "latency_ms": q(self.latencies),
            "service_ms": q(self.service),
            "health_ms": q(self.health),
            "errors": self.errors,
            "health_errors": self.health_errors,
            "unfinished": self.unfinished,
            "rss_peak_mb": self.rss_peak_kb / 1024,
        }


def load_average() -> float:
    """The machine's 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


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
    sent = time.monotonic()
    try:
        response = await client.get(path, params=params)
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    return time.monotonic() - sent, ok


async def _probe(base: str, rate: float, seconds: float, start: float) -> dict[str, Any]:
    """``GET /health`` ``rate`` times a second from ``start`` (``time.monotonic()``) for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def one(due: float) -> None:
            nonlocal errors
            _, ok = await _timed(client, "/health", None)
            if ok:
                latencies.append(time.monotonic() - due)
            else:
                errors += 1

        tasks = []
        for i in range(int(rate * seconds)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.wait(tasks, timeout=120)
    return {"latencies": latencies, "errors": errors}


def start_prober(base: str, rate: float, seconds: float, start: float) -> subprocess.Popen[str]:
    """The ``/health`` prober as a process of its own; its JSON report comes on stdout."""
    argv = [sys.executable, __file__, "probe", base, str(rate), str(seconds), repr(start)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


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
    start = time.monotonic() + 1.5  # the prober's interpreter starts meanwhile
    prober = start_prober(base, health_rate, seconds, start)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one(due: float, params: Params) -> None:
            async with slots:
                took, ok = await _timed(client, path, params)
            if ok:
                now = time.monotonic()
                run.latencies.append(now - due)
                run.service.append(took)
                run.ends.append(now - start)
            else:
                run.errors += 1

        async def schedule(
            every: float, count: int, start: float, make: Callable[[float], Any]
        ) -> list[asyncio.Task[None]]:
            tasks = []
            for i in range(count):
                due = start + i * every
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(make(due)))
            return tasks

        sampler = asyncio.create_task(_sample_rss(pid, run, stop))
        before = load_average()
        lists = await schedule(1 / rate, int(rate * seconds), start, lambda due: one(due, mix(rng)))
        done, pending = await asyncio.wait(lists, timeout=drain_seconds)
        run.elapsed = time.monotonic() - start
        for task in pending:
            task.cancel()
        run.unfinished = len(pending)
        stop.set()
        await sampler
        run.load_average = (before, load_average())
    out, _ = await asyncio.to_thread(prober.communicate)
    probes = json.loads(out)
    run.health, run.health_errors = probes["latencies"], probes["errors"]
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


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    _, _, url, probe_rate, probe_seconds, probe_start = sys.argv
    print(json.dumps(asyncio.run(_probe(url, float(probe_rate), float(probe_seconds), float(probe_start)))))
