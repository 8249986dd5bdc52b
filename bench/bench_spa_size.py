"""How often does the SPA test reject a true null? Size of three statistics on pure-noise cohorts.

Cohorts of ``--configs`` configurations x ``--sessions`` sessions of zero-mean daily returns (i.i.d.,
or MA(1) with coefficient 0.5), none better than staying flat; the share of cohorts whose
consistent p-value is below 5% should be about 5%:

- ``raw``: mean differences, unstudentized (``arch.bootstrap.SPA`` 8.0's statistic);
- ``fixed sd``: each column divided by its long-run standard deviation, held fixed in the bootstrap
  (the textbook shortcut; the noise of the denominator is not in the bootstrap);
- ``percentile-t``: ours (:func:`walkforward.evaluation.spa.spa_test`), the standard deviation
  re-estimated in every resample.

    .venv/bin/python bench/bench_spa_size.py [--cohorts 1000] [--reps 500] [--block 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from walkforward.evaluation.spa import long_run_variance, spa_test


def cohort(seed: int, sessions: int, configs: int, ma: float) -> np.ndarray:
    shocks = np.random.default_rng(seed).normal(0.0, 0.01, (sessions + 1, configs))
    return shocks[1:] + ma * shocks[:-1]


def rejected(statistic: str, d: np.ndarray, block: int, reps: int, seed: int) -> bool:
    if statistic == "fixed sd":
        d = d / np.sqrt(long_run_variance(d, block))
    result = spa_test(d, block_size=block, reps=reps, seed=seed, studentize=statistic == "percentile-t")
    return result.p_consistent < 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--block", type=int, default=6)
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--configs", type=int, default=20)
    args = parser.parse_args()
    statistics = ("raw", "fixed sd", "percentile-t")
    table = Table(
        title=f"SPA size at 5%: {args.cohorts} null cohorts of {args.configs} x {args.sessions}, "
        f"block {args.block}, {args.reps} draws (Monte Carlo sd {np.sqrt(0.05 * 0.95 / args.cohorts):.1%})"
    )
    table.add_column("returns")
    for statistic in statistics:
        table.add_column(statistic, justify="right")
    started = time.perf_counter()
    for label, ma in (("i.i.d.", 0.0), ("MA(1) 0.5", 0.5)):
        rates = []
        for statistic in statistics:
            hits = sum(
                rejected(statistic, cohort(seed, args.sessions, args.configs, ma), args.block, args.reps, seed)
                for seed in range(args.cohorts)
            )
            rates.append(f"{hits / args.cohorts:.1%}")
        table.add_row(label, *rates)
    Console().print(table)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
