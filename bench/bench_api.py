"""Load test of the HTTP API: listing 10,000 realistic models, open loop, on SQLite and PostgreSQL.

For each backend: a registry seeded with copies of real models' rows (``api_seed.py``: 35-50 KB each
with their explanations), then

1. in process, the same mixed list requests through ``ModelStore.list`` and through the plain way
   (the full-row list as it was before issue 10, ``api_plain.py``), with the ratio;
2. a real ``walkforward serve`` process driven open loop (``api_load.py``) at ``--rate`` requests a
   second of ``GET /models`` (mixed sorts, offsets and filters; at most 20 in flight; latency from
   each request's scheduled time) with ``/health`` probed 10 times a second; its RSS idle and under
   load (``/proc/PID/status``);
3. a saturation ramp (``--ramp`` rates, ``--step-seconds`` each): the highest rate sustained (at
   least 95% of it answered within its window, p99 under 1 s) and the most answers a second seen;
4. a chart drawn, then served from the cache;
5. the plain way's list behind the same service (``GET /plain/models`` of a uvicorn process of its
   own) at the same rate, with the ratios.

PostgreSQL gets a database of its own on 127.0.0.1:5432 (user postgres, as the tests), dropped at
the end. Results are printed and written to ``bench/out/api-results.json``.

    .venv/bin/python bench/bench_api.py [--backends sqlite,postgresql] [--models 10000] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import api_load
import api_plain
import api_seed
import httpx
import sqlalchemy as sa

from walkforward.queries import list_models
from walkforward.registry import ModelStore

BENCH = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ALGORITHMS = api_seed.TEMPLATE_ALGORITHMS


@contextmanager
def database(backend: str, root: Path) -> Iterator[str]:
    """An empty database URL of ``backend``, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{root / 'metadata.db'}"
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"wf_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def vacuum(url: str) -> None:
    """``VACUUM ANALYZE`` a PostgreSQL database after the bulk load (what autovacuum does on its own later)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def in_process(url: str, models_dir: Path, n_models: int, repeats: int = 200) -> dict[str, Any]:
    """Median and p95 of ours and the plain way over the same ``repeats`` mixed requests (ms)."""
    mix = api_load.list_mix(api_seed.SYMBOLS, ALGORITHMS)
    rng = random.Random(1)
    cases = [mix(rng) for _ in range(repeats)]

    def kwargs(p: dict[str, str | int]) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in p.items() if k != "descending"}
        out["descending"] = p.get("descending") != "false"
        return out

    ways: dict[str, Callable[[dict[str, Any]], object]] = {}
    with ModelStore.open(url, models_dir) as store:
        ways["ours"] = lambda kw: list_models(store, **kw).items()
        ways["plain"] = lambda kw: api_plain.plain_page(store, **kw)
        out: dict[str, Any] = {}
        for name, way in ways.items():
            took = []
            for case in cases:
                start = time.perf_counter()
                way(kwargs(case))
                took.append((time.perf_counter() - start) * 1000)
            cuts = statistics.quantiles(took, n=100)
            out[name] = {"p50": cuts[49], "p95": cuts[94]}
    out["ratio_p50"] = out["plain"]["p50"] / out["ours"]["p50"]
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(argv: list[str], env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen([*argv, "--port", str(port)], env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(api_load.wait_healthy(base, lambda: proc.poll() is None))
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def chart_timings(base: str, model_id: str) -> dict[str, float]:
    """Seconds for a model's regimes chart: drawn, then from the cache."""
    out = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for label in ("first", "cached"):
            start = time.perf_counter()
            response = client.get(f"/models/{model_id}/plots/regimes.png")
            response.raise_for_status()
            out[label] = time.perf_counter() - start
    return out


def load(base: str, pid: int, path: str, rate: float, seconds: float) -> Coroutine[Any, Any, api_load.Run]:
    mix = api_load.list_mix(api_seed.SYMBOLS, ALGORITHMS)
    return api_load.open_loop(base, path=path, mix=mix, rate=rate, seconds=seconds, pid=pid)


def run_backend(backend: str, args: argparse.Namespace, templates: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": backend}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, database(backend, Path(tmp)) as url:
        root = Path(tmp)
        result["seed_seconds"] = api_seed.seed(url, root / "models", args.models, templates)
        if backend == "postgresql":
            vacuum(url)
        print(f"[{backend}] seeded {args.models:,} models in {result['seed_seconds']:.1f} s", file=sys.stderr)
        result["in_process_ms"] = in_process(url, root / "models", args.models)
        env = {
            **os.environ,
            "METADATA_DB_URL": url,
            "MODELS_DIR": str(root / "models"),
            "FEATURES_PARQUET_DIR": str(root / "features"),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("API_TOKEN", None)
        with server([sys.executable, "-m", "walkforward", "serve"], env) as (base, proc):
            time.sleep(2)
            result["rss_idle_mb"] = api_load.proc_status_kb(proc.pid, "VmRSS") / 1024
            asyncio.run(load(base, proc.pid, "/models", 20, 5))  # warm-up (statement caches), not recorded
            result["rss_warm_mb"] = api_load.proc_status_kb(proc.pid, "VmRSS") / 1024
            main = asyncio.run(load(base, proc.pid, "/models", args.rate, args.seconds))
            result["load"] = main.summary()
            print(f"[{backend}] {args.rate}/s: {json.dumps(result['load'])}", file=sys.stderr)
            steps = []
            for rate in args.ramp:
                step = asyncio.run(load(base, proc.pid, "/models", rate, args.step_seconds)).summary()
                steps.append(step)
                print(f"[{backend}] ramp {rate}/s: {json.dumps(step)}", file=sys.stderr)
            result["ramp"] = steps
            sustained = [
                s for s in steps if s["served_in_window"] >= 0.95 * s["rate"] and s["latency_ms"].get("p99", 1e9) < 1000
            ]
            result["max_sustained_rate"] = max((s["rate"] for s in sustained), default=0)
            result["max_served_per_second"] = max((s["served_in_window"] for s in steps), default=0)
            result["rss_hwm_mb"] = api_load.proc_status_kb(proc.pid, "VmHWM") / 1024
            model_id = httpx.get(f"{base}/models", params={"limit": 1}).json()["items"][0]["id"]
            result["chart_seconds"] = chart_timings(base, model_id)
            result["rss_after_chart_mb"] = api_load.proc_status_kb(proc.pid, "VmRSS") / 1024
        plain_argv = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH)]
        plain_argv += ["api_plain:create_plain_app", "--log-level", "warning"]
        with server(plain_argv, env) as (base, proc):
            asyncio.run(load(base, proc.pid, "/plain/models", 5, 2))
            plain = asyncio.run(load(base, proc.pid, "/plain/models", args.rate, args.plain_seconds))
            result["plain_load"] = plain.summary()
            result["plain_rss_hwm_mb"] = api_load.proc_status_kb(proc.pid, "VmHWM") / 1024
            print(f"[{backend}] plain {args.rate}/s: {json.dumps(result['plain_load'])}", file=sys.stderr)
    return result


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nGET /models?limit=50, {args.models:,} models, open loop at {args.rate:g}/s (at most 20 in flight)")
    for r in results:
        ours, plain = r["load"], r["plain_load"]
        lat, plat = ours["latency_ms"], plain["latency_ms"]
        ip = r["in_process_ms"]
        print(f"\n[{r['backend']}]")
        print(
            f"  in process, p50: ours {ip['ours']['p50']:.1f} ms, plain {ip['plain']['p50']:.1f} ms "
            f"({ip['ratio_p50']:.1f}x)"
        )
        print(
            f"  ours:  p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f} ms, "
            f"{ours['throughput']:.1f}/s, errors {ours['errors']}; /health p50 {ours['health_ms']['p50']:.1f} "
            f"p99 {ours['health_ms']['p99']:.1f} ms; load average {ours['load_average'][0]:.1f} -> "
            f"{ours['load_average'][1]:.1f}"
        )
        print(
            f"  plain: p50 {plat.get('p50', float('nan')):.1f}  p95 {plat.get('p95', float('nan')):.1f}  "
            f"p99 {plat.get('p99', float('nan')):.1f} ms, {plain['throughput']:.1f}/s, errors {plain['errors']}, "
            f"unfinished {plain['unfinished']}; p95 ratio {plat.get('p95', float('nan')) / lat['p95']:.1f}x"
        )
        print(
            f"  RSS: idle {r['rss_idle_mb']:.0f} MB, warm {r['rss_warm_mb']:.0f} MB, "
            f"under load {ours['rss_peak_mb']:.0f} MB "
            f"(peak of the process {r['rss_hwm_mb']:.0f} MB); plain's peak {r['plain_rss_hwm_mb']:.0f} MB"
        )
        for s in r["ramp"]:
            q = s["latency_ms"]
            print(
                f"  ramp {s['rate']:>4g}/s: answered {s['served_in_window']:6.1f}/s  p50 {q.get('p50', 0):7.1f}  "
                f"p95 {q.get('p95', 0):7.1f}  p99 {q.get('p99', 0):7.1f} ms  "
                f"/health p99 {s['health_ms'].get('p99', 0):6.1f} ms  load {s['load_average'][1]:.1f}"
            )
        print(
            f"  max sustained: {r['max_sustained_rate']:g}/s (most answered {r['max_served_per_second']:.0f}/s); "
            f"chart: first {r['chart_seconds']['first']:.2f} s, "
            f"cached {r['chart_seconds']['cached'] * 1000:.1f} ms (RSS after drawing {r['rss_after_chart_mb']:.0f} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ramp", default="50,75,100,125,150,200,300")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--plain-seconds", type=float, default=15.0)
    parser.add_argument("--retrain", action="store_true", help="train the template models again")
    args = parser.parse_args()
    args.ramp = [float(x) for x in args.ramp.split(",") if x]
    templates = api_seed.template_rows(retrain=args.retrain)
    results = [run_backend(b, args, templates) for b in args.backends.split(",") if b]
    api_seed.OUT.mkdir(parents=True, exist_ok=True)
    (api_seed.OUT / "api-results.json").write_text(json.dumps(results, indent=2))
    report(results, args)


if __name__ == "__main__":
    main()
