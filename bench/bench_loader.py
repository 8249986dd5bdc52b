"""Benchmark: load + join + resample 3 symbols x N trading days of 1-minute bars to 5m, three ways.

1. ours:   ``load_dataset(store, LoadRequest.build("AAPL,MSFT,QQQ", timeframe="5m",
           target_transform="log_return"))`` (the whole call);
2. pandas: the reference's plain pandas way (read each symbol's files, suffix, ``pd.merge`` on ``ts``,
           combine the split labels, ``resample("5min").agg(...)`` with a Python aggregator for the
           split label, drop empty buckets, log-return target);
3. scan:   DuckDB's bare ``SELECT * FROM read_parquet(...)`` of the same files, to Arrow and to pandas
           (no join, no aggregation): the floor for anything that reads these files through DuckDB.

(1) and (2) must give the same rows and values; the script exits non-zero if they do not.
Run ``.venv/bin/python bench/bench_loader.py`` (``make bench``); ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from walkforward.data.loader import LoadRequest, load_dataset
from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore

SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "QQQ")
PRIMARY = SYMBOLS[0]
OUT = Path(__file__).resolve().parent / "out"
GOAL_PANDAS_OVER_OURS = 10.0  # pandas / ours must be at least this
GOAL_OURS_OVER_SCAN = 2.0  # ours / scan must be at most this
SKIP_BY_DESIGN = {"vwap": "ours is volume-weighted over the bucket; the reference takes the last minute's"}

err = Console(stderr=True)


# --------------------------------------------------------------------------- data


def store_root(days: int) -> Path:
    return OUT / "store" if days == 250 else OUT / f"store-{days}d"


def ensure_store(days: int) -> tuple[FeatureStore, bool]:
    """The benchmark store with ``days`` trading days per symbol; (store, reused?)."""
    root = store_root(days)
    store = FeatureStore(root)
    try:
        if all(store.describe(s).days == days for s in SYMBOLS):
            return store, True
    except FileNotFoundError:
        pass
    if root.exists():
        shutil.rmtree(root)
    err.print(f"[dim]generating {days} days x {len(SYMBOLS)} symbols into {root} ...[/dim]")
    t0 = time.perf_counter()
    frames = generate_market(days=days, symbols=SYMBOLS, seed=7)
    ingest_frames(store, frames, scheme=SplitScheme(60, 20))
    err.print(f"[dim]ingested in {time.perf_counter() - t0:.1f} s[/dim]")
    return store, False


def symbol_files(store: FeatureStore, symbol: str) -> list[str]:
    return [str(p) for files in store.day_files(symbol).values() for p in files]  # the committed files only


# --------------------------------------------------------------------------- the three ways


def run_ours(store: FeatureStore) -> pd.DataFrame:
    req = LoadRequest.build(",".join(SYMBOLS), timeframe="5m", target_transform="log_return")
    return load_dataset(store, req).frame


def aggressive_test_label(s: pd.Series) -> str:
    """The reference's split aggregator: a bucket is 'test' if any minute in it is (a Python call)."""
    return "test" if "test" in set(s.astype(str).unique()) else "train"


def reference_agg(base: str) -> str | Callable[[pd.Series], str]:
    """The reference's aggregation table, by the stored column a merged column came from."""
    if base == "open":
        return "first"
    if base == "high":
        return "max"
    if base == "low":
        return "min"
    if base in ("volume", "trade_count"):
        return "sum"
    return "last"


def run_pandas(store: FeatureStore) -> tuple[pd.DataFrame, dict[str, float]]:
    """The reference's pandas way; returns the frame and the seconds spent in each part."""
    parts: dict[str, float] = {}
    t0 = time.perf_counter()
    frames: list[pd.DataFrame] = []
    bases: dict[str, str] = {}  # output column -> stored column it came from
    for i, sym in enumerate(SYMBOLS):
        df = pd.concat([pd.read_parquet(f) for f in symbol_files(store, sym)], ignore_index=True)
        df = df.drop(columns=["options"])
        names = {c: (c if i == 0 else f"{c}_{sym}") for c in df.columns if c != "ts"}
        bases.update({new: old for old, new in names.items()})
        if i > 0:
            df = df.rename(columns=names)
        frames.append(df)
    t1 = time.perf_counter()
    parts["read"] = t1 - t0

    merged = frames[0]
    for other in frames[1:]:
        merged = pd.merge(merged, other, on="ts", how="inner")
    split_cols = [c for c in merged.columns if bases.get(c) == "data_split"]
    is_test = (merged[split_cols] == "test").any(axis=1).to_numpy()
    merged = merged.drop(columns=split_cols)
    merged["data_split"] = np.where(is_test, "test", "train")
    t2 = time.perf_counter()
    parts["merge"] = t2 - t1

    agg: dict[str, Any] = {c: reference_agg(bases[c]) for c in merged.columns if c not in ("ts", "data_split")}
    agg["data_split"] = aggressive_test_label
    with warnings.catch_warnings():  # the reference's frame is fragmented by agg(); not our concern
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        out = merged.set_index("ts").resample("5min").agg(agg)
    t3 = time.perf_counter()
    parts["resample"] = t3 - t2

    out = out[out["close"].notna()]
    out["target"] = np.log(out["close"].shift(-1) / out["close"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        out = out.iloc[:-1].reset_index()
    parts["target"] = time.perf_counter() - t3
    return out, parts


def run_scan(store: FeatureStore) -> list[pd.DataFrame]:
    con = duckdb.connect()
    try:
        return [
            con.sql(
                "SELECT * FROM read_parquet($f, union_by_name = true)",
                params={"f": symbol_files(store, sym)},
            )
            .to_arrow_table()
            .to_pandas()
            for sym in SYMBOLS
        ]
    finally:
        con.close()


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    name: str
    runs: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def timed_interleaved(ways: dict[str, tuple[Callable[[], Any], int]]) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Warm each way up once (file-system cache, imports), then time them round-robin.

    Round ``i`` runs every way that still has repeats left, so a burst of load on a shared machine
    hits all ways alike instead of whichever happened to be running. Returns timings and last results.
    """
    results = {name: fn() for name, (fn, _) in ways.items()}
    timings = {name: Timing(name) for name in ways}
    for i in range(max(n for _, n in ways.values())):
        for name, (fn, n) in ways.items():
            if i >= n:
                continue
            gc.collect()
            t0 = time.perf_counter()
            results[name] = fn()
            timings[name].runs.append(time.perf_counter() - t0)
            err.print(f"[dim]  {name}: {timings[name].runs[-1]:.3f} s[/dim]")
    return timings, results


# --------------------------------------------------------------------------- comparison


@dataclass
class Comparison:
    identical: bool
    rows: tuple[int, int]
    compared: list[str]
    skipped: dict[str, str]
    only_pandas: list[str]
    only_ours: list[str]
    problems: list[str]


def compare(ours: pd.DataFrame, ref: pd.DataFrame) -> Comparison:
    """Same ts, same data_split, and every shared column equal (rtol 1e-12, NaN == NaN)."""
    problems: list[str] = []
    common = [c for c in ours.columns if c in ref.columns and c not in ("ts", "data_split")]
    skipped: dict[str, str] = {}
    compared: list[str] = []
    res = Comparison(
        identical=False,
        rows=(len(ours), len(ref)),
        compared=compared,
        skipped=skipped,
        only_pandas=[c for c in ref.columns if c not in ours.columns],
        only_ours=[c for c in ours.columns if c not in ref.columns],
        problems=problems,
    )
    if len(ours) != len(ref):
        problems.append(f"row counts differ: ours {len(ours)}, pandas {len(ref)}")
        return res
    ts_a = ours["ts"].to_numpy(dtype="datetime64[ns]")
    ts_b = ref["ts"].to_numpy(dtype="datetime64[ns]")
    if not np.array_equal(ts_a, ts_b):
        n = int((ts_a != ts_b).sum())
        problems.append(f"ts differs in {n} rows (first at {int(np.argmax(ts_a != ts_b))})")
    sp_a = ours["data_split"].astype(str).to_numpy()
    sp_b = ref["data_split"].astype(str).to_numpy()
    if not np.array_equal(sp_a, sp_b):
        problems.append(f"data_split differs in {int((sp_a != sp_b).sum())} rows")
    for c in common:
        a = ours[c].to_numpy(dtype=np.float64)
        b = ref[c].to_numpy(dtype=np.float64)
        if c in SKIP_BY_DESIGN:
            same = bool(np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True))
            note = "equal anyway" if same else "differs"
            skipped[c] = f"{SKIP_BY_DESIGN[c]} ({note})"
            continue
        try:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True)
        except AssertionError as exc:
            problems.append(f"{c}: {str(exc).strip().splitlines()[2:5]}")
        compared.append(c)
    res.identical = not problems
    return res


# --------------------------------------------------------------------------- profile of ours


def profile_ours(store: FeatureStore, repeats: int) -> dict[str, float]:
    """Where ours spends its time: best-of-``repeats`` seconds per variant (uses loader internals)."""
    from walkforward.data.loader import _resolve_source, build_query

    req = LoadRequest.build(",".join(SYMBOLS), timeframe="5m", target_transform="log_return")
    out: dict[str, float] = {}

    def best(name: str, fn: Callable[[], object]) -> None:
        fn()
        runs = []
        for _ in range(repeats):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        out[name] = min(runs)
        err.print(f"[dim]  profile {name}: {out[name]:.3f} s[/dim]")

    con = duckdb.connect()
    sources = [_resolve_source(con, store, s, req) for s in SYMBOLS]
    srcs = [s for s in sources if not isinstance(s, str)]
    sql, params, _ = build_query(srcs, req)
    joined = sql.split(", j AS (")[1].rsplit(") SELECT time_bucket", 1)[0]
    with_ = sql.split(", j AS (")[0]

    best(
        "resolve sources (file list + DESCRIBE)",
        lambda: [_resolve_source(con, store, s, req) for s in SYMBOLS],
    )
    best("query -> arrow", lambda: con.sql(sql, params=params).to_arrow_table())
    tbl = con.sql(sql, params=params).to_arrow_table()
    best("arrow -> pandas", lambda: tbl.to_pandas())
    best("query -> .df()", lambda: con.sql(sql, params=params).df())
    best(
        "join only (no GROUP BY) -> arrow",
        lambda: con.sql(f"{with_} {joined}", params=params).to_arrow_table(),
    )
    con.execute("SET enable_progress_bar = false")
    best("query -> arrow, progress bar off", lambda: con.sql(sql, params=params).to_arrow_table())
    con.execute("SET threads = 1")
    best("query -> arrow, threads=1", lambda: con.sql(sql, params=params).to_arrow_table())
    con.close()
    return out


# --------------------------------------------------------------------------- report


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=250, help="trading days per symbol (default 250)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of ours and the scan (default 5)")
    ap.add_argument("--pandas-repeats", type=int, default=3, help="timed runs of pandas (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    ap.add_argument("--profile", action="store_true", help="also break down where ours spends its time")
    args = ap.parse_args(argv)
    if args.days < 2 or args.repeats < 1 or args.pandas_repeats < 1:
        ap.error("--days must be >= 2 and the repeats >= 1")

    store, reused = ensure_store(args.days)
    part_runs: list[dict[str, float]] = []

    def pandas_once() -> pd.DataFrame:
        frame, parts = run_pandas(store)
        part_runs.append(parts)
        return frame

    load_before = os.getloadavg()
    timings, results = timed_interleaved(
        {
            "ours": (lambda: run_ours(store), args.repeats),
            "scan": (lambda: run_scan(store), args.repeats),
            "pandas": (pandas_once, args.pandas_repeats),
        }
    )
    load_after = os.getloadavg()
    t_ours, t_scan, t_pandas = timings["ours"], timings["scan"], timings["pandas"]
    ours: pd.DataFrame = results["ours"]
    scan: list[pd.DataFrame] = results["scan"]
    ref: pd.DataFrame = results["pandas"]
    part_runs = part_runs[1:]  # drop the warm-up
    parts = {k: (min(p[k] for p in part_runs), statistics.median(p[k] for p in part_runs)) for k in part_runs[0]}
    cmp = compare(ours, ref)
    prof = profile_ours(store, args.repeats) if args.profile else {}

    pandas_over_ours = t_pandas.best / t_ours.best
    ours_over_scan = t_ours.best / t_scan.best
    shapes = {
        "ours": (len(ours), ours.shape[1]),
        "pandas": (len(ref), ref.shape[1]),
        "scan": (sum(len(f) for f in scan), scan[0].shape[1]),
    }
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "days": args.days,
        "symbols": list(SYMBOLS),
        "store_reused": reused,
        "cpus": os.cpu_count(),
        "loadavg_1m": {"before": load_before[0], "after": load_after[0]},
        "versions": {"duckdb": duckdb.__version__, "pandas": pd.__version__, "numpy": np.__version__},
        "timings": {t.name: {"best": t.best, "median": t.median, "runs": t.runs} for t in (t_ours, t_pandas, t_scan)},
        "pandas_parts": {k: {"best": b, "median": m} for k, (b, m) in parts.items()},
        "ratios": {
            "pandas_over_ours": pandas_over_ours,
            "pandas_over_ours_median": t_pandas.median / t_ours.median,
            "ours_over_scan": ours_over_scan,
            "ours_over_scan_median": t_ours.median / t_scan.median,
        },
        "goals_met": {
            "pandas_over_ours>=10": pandas_over_ours >= GOAL_PANDAS_OVER_OURS,
            "ours_over_scan<=2": ours_over_scan <= GOAL_OURS_OVER_SCAN,
        },
        "shapes": {k: {"rows": r, "columns": c} for k, (r, c) in shapes.items()},
        "identical": cmp.identical,
        "compared_columns": len(cmp.compared) + 2,  # + ts and data_split
        "skipped_columns": cmp.skipped,
        "only_in_pandas": cmp.only_pandas,
        "only_in_ours": cmp.only_ours,
        "problems": cmp.problems,
        "profile": prof,
    }

    if args.json:
        print(json.dumps(result, indent=1))
    else:
        con = Console()
        tab = Table(title=f"load + join + resample to 5m: {len(SYMBOLS)} symbols x {args.days} days of 1m bars")
        for col in ("way", "best s", "median s", "runs", "rows", "cols"):
            tab.add_column(col, justify="left" if col == "way" else "right")
        labels = {"ours": "ours (load_dataset)", "pandas": "pandas (reference)", "scan": "DuckDB bare scan"}
        for t in (t_ours, t_pandas, t_scan):
            r, c = shapes[t.name]
            tab.add_row(labels[t.name], _fmt(t.best), _fmt(t.median), str(len(t.runs)), str(r), str(c))
        for k, (b, m) in parts.items():
            tab.add_row(f"  pandas: {k}", _fmt(b), _fmt(m), str(len(part_runs)), "", "")
        con.print(tab)
        rat = Table(title="ratios (best / best; median / median)")
        for col in ("ratio", "best", "median", "goal", "met"):
            rat.add_column(col, justify="left" if col == "ratio" else "right")
        ok1, ok2 = result["goals_met"].values()
        rat.add_row(
            "pandas / ours",
            f"{pandas_over_ours:.1f}x",
            f"{t_pandas.median / t_ours.median:.1f}x",
            ">= 10x",
            "yes" if ok1 else "[red]NO[/red]",
        )
        rat.add_row(
            "ours / scan",
            f"{ours_over_scan:.2f}x",
            f"{t_ours.median / t_scan.median:.2f}x",
            "<= 2x",
            "yes" if ok2 else "[red]NO[/red]",
        )
        con.print(rat)
        if prof:
            pt = Table(title="profile of ours (best of runs)")
            pt.add_column("part")
            pt.add_column("best s", justify="right")
            for k, v in prof.items():
                pt.add_row(k, _fmt(v))
            con.print(pt)
        busy = load_before[0] > (os.cpu_count() or 1)
        con.print(
            f"{os.cpu_count()} CPUs; 1-minute load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after" + (" (other processes shared the machine)" if busy else "")
        )
        con.print(
            f"rows ours/pandas: {cmp.rows[0]}/{cmp.rows[1]}; compared ts, data_split and "
            f"{len(cmp.compared)} value columns (rtol 1e-12, NaN == NaN)"
        )
        for col, why in cmp.skipped.items():
            con.print(f"skipped {col}: {why}")
        con.print(f"only in pandas ({len(cmp.only_pandas)}): {', '.join(cmp.only_pandas)}")
        if cmp.only_ours:
            con.print(f"only in ours: {', '.join(cmp.only_ours)}")
        if cmp.identical:
            con.print("[green]IDENTICAL[/green]: ours == pandas on every shared row and column")
    if not cmp.identical:
        err.print("[red bold]MISMATCH between ours and pandas:[/red bold]")
        for p in cmp.problems:
            err.print(f"  {p}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
