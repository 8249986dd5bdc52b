"""Start-up: what every command pays before it does anything.

Runs the console script as a user's shell would (a fresh process each time) and prints the median
of ``--repeat`` runs, wall time and CPU time (user + sys, steadier on a shared machine), for

- ``walkforward --help`` (goal <= 0.5 s),
- ``walkforward models list`` against a temporary registry of ``--models`` rows (goal <= 1.0 s),
- ``import walkforward.cli``: the whole process, and ``python -X importtime``'s cumulative figure.

The registry is filled as ``bench_api.py`` fills it (rows inserted in one transaction) and migrated
before the timed runs, so they time a registry that is up to date, as a user's usually is. To time
another tree, point ``PYTHONPATH`` at its ``src``:

    .venv/bin/python bench/bench_startup.py [--models 300] [--repeat 5]
    PYTHONPATH=/other/checkout/src .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

GOALS = {"walkforward --help": 0.5, "walkforward models list": 1.0}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: Sequence[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + sys) of ``repeat`` fresh runs of ``cmd``."""
    walls, cpus = [], []
    for _ in range(repeat):
        cpu0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def importtime(env: dict[str, str], repeat: int) -> float:
    """Median cumulative seconds ``python -X importtime`` reports for ``walkforward.cli``."""
    figures = []
    for _ in range(repeat):
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import walkforward.cli"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(ln for ln in run.stderr.splitlines() if re.search(r"\|\s*walkforward\.cli$", ln))
        figures.append(int(line.split("|")[1]) / 1e6)
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=300, help="rows in the temporary registry (0: empty)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is printed)")
    args = parser.parse_args()

    script = Path(sys.executable).with_name("walkforward")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "walkforward"]
    with tempfile.TemporaryDirectory(prefix="wf-startup-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "METADATA_DB_PATH": str(root / "metadata.db"),
            "MODELS_DIR": str(root / "models"),
            "FEATURES_PARQUET_DIR": str(root / "features"),
        }
        if args.models:
            from api_seed import fill  # the same rows as the API benchmark

            fill(f"sqlite:///{root / 'metadata.db'}", root / "models", args.models)
        subprocess.run([*cli, "models", "list"], env=env, check=True, capture_output=True)  # migrate, warm

        print(f"start-up, median of {args.repeat} runs (load average {os.getloadavg()[0]:.1f}, 1 min)")
        print(f"{'command':<44} {'wall':>8} {'cpu':>8} {'goal':>8}")
        for label, argv in (("walkforward --help", ["--help"]), ("walkforward models list", ["models", "list"])):
            wall, cpu = timed([*cli, *argv], env, args.repeat)
            shown = f"{label} ({args.models} rows)" if argv[0] == "models" else label
            met = "met" if wall <= GOALS[label] else "missed"
            print(f"{shown:<44} {wall:>7.2f}s {cpu:>7.2f}s {GOALS[label]:>6.1f}s  {met}")
        wall, cpu = timed([sys.executable, "-c", "import walkforward.cli"], env, args.repeat)
        label = 'python -c "import walkforward.cli"'
        print(f"{label:<44} {wall:>7.2f}s {cpu:>7.2f}s")
        print(f"{'-X importtime cumulative, walkforward.cli':<44} {importtime(env, args.repeat):>7.2f}s")


if __name__ == "__main__":
    main()
