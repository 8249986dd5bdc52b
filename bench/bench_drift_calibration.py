"""False alarms and power of the drift monitor's calibration (``evaluation.drift.compare``), default settings.

Five AR(1) features with unit variance, 2,000 training rows and the 500 rows after them as the new
window (one process: no drift), over ``--seeds`` seeds; "not ok" is a warn or an alert on any
feature (nominal 5%), "alert" an alert (nominal 1%). Power: the same series with feature 0 shifted
by one standard deviation, or its variance doubled, after the training end. ``--timing`` also times
one report of 50 features (2,000 / 500 rows, 1,000 draws).

    PYTHONPATH=src python bench/bench_drift_calibration.py --seeds 60 [--only 'phi 0.9'] [--timing]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from walkforward.evaluation.drift import ALERT, OK, DriftConfig, compare

ROWS, NEW, COLUMNS = 2000, 500, 5
#: (label, phi, what is done to feature 0 of the new window)
SCENARIOS = [
    ("null, phi 0.9", 0.9, None),
    ("null, phi 0.5", 0.5, None),
    ("null, iid", 0.0, None),
    ("mean +1 sd, phi 0.9", 0.9, "mean"),
    ("mean +1 sd, phi 0.5", 0.5, "mean"),
    ("variance x2, phi 0.9", 0.9, "var"),
    ("variance x2, phi 0.5", 0.5, "var"),
]


def ar1(seed: int, rows: int, columns: int, phi: float) -> np.ndarray:
    """``columns`` independent stationary AR(1) series with unit variance (phi 0: i.i.d. normal)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((rows, columns)) * math.sqrt(1 - phi**2)
    x = np.empty((rows, columns))
    x[0] = rng.standard_normal(columns)
    for t in range(1, rows):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def status(seed: int, phi: float, change: str | None, config: DriftConfig) -> str:
    x = ar1(seed, ROWS + NEW, COLUMNS, phi)
    ref, new = x[:ROWS], x[ROWS:].copy()
    if change == "mean":
        new[:, 0] += 1.0
    elif change == "var":
        new[:, 0] *= math.sqrt(2.0)
    table = compare(ref, new, [f"f{j}" for j in range(COLUMNS)], config)
    return max((c.status for c in table.columns), key=[OK, "warn", ALERT].index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=1000, help="seeds first..first+n-1 (tests use 0-49)")
    parser.add_argument("--only", default="", help="run only the scenarios whose label contains this")
    parser.add_argument("--timing", action="store_true", help="also time 50 features, 2,000 / 500 rows")
    args = parser.parse_args()
    config = DriftConfig()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"{'scenario':<24}{'not ok':>8}{'alert':>8}{'s/run':>8}   ({args.seeds} seeds, {config.draws} draws)")
    for label, phi, change in (s for s in SCENARIOS if args.only in s[0]):
        started = time.perf_counter()
        statuses = [status(s, phi, change, config) for s in seeds]
        each = (time.perf_counter() - started) / len(statuses)
        not_ok = np.mean([s != OK for s in statuses])
        alert = np.mean([s == ALERT for s in statuses])
        print(f"{label:<24}{not_ok:>8.1%}{alert:>8.1%}{each:>8.2f}", flush=True)
    if args.timing:
        x = ar1(0, 2500, 50, 0.9)
        started = time.perf_counter()
        table = compare(x[:2000], x[2000:], [f"f{j}" for j in range(50)], config)
        print(f"50 features, 2,000 / 500 rows: {time.perf_counter() - started:.2f} s (block {table.block_length})")


if __name__ == "__main__":
    main()
