"""Benchmark: one full training run (load -> 3 walk-forward folds -> final fit -> metrics -> save), two ways.

For ``elasticnet_regression`` and ``lightgbm_regressor`` on AAPL,MSFT,QQQ x 250 days, 5m bars,
target ``log_return``, lookforward 1, default embargo:

1. ours:  ``train(TrainRequest(...), store=..., registry=ModelStore.open(sqlite, models_dir))``;
2. plain: the same steps the plain pandas + scikit-learn way (``pd.read_parquet`` per symbol, suffix,
          ``pd.merge`` on ``ts``, ``resample("5min").agg`` with the reference's Python split-label
          aggregator, target, the reference's loader-level boundary purge, the reference's block
          detection for folds, ``Pipeline(SimpleImputer, StandardScaler, estimator)`` per fold and a
          final fit, ``joblib.dump``).

The plain way has no p-value pruning per fold and no embargo: it does less work, and it is the leaky
version the reference describes. The comparison is about time, not skill.
Run ``.venv/bin/python bench/bench_training.py`` (``make bench``); ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import joblib
import lightgbm
import numpy as np
import pandas as pd
import sklearn
from bench_loader import OUT, SYMBOLS, aggressive_test_label, ensure_store, reference_agg, symbol_files
from rich.console import Console
from rich.table import Table
from sklearn import metrics as skm
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import walkforward.training.run as training_run
from walkforward.domain import METADATA_COLUMNS, RAW_PRICE_COLUMNS
from walkforward.features.store import FeatureStore
from walkforward.models import get_algorithm
from walkforward.registry import ModelRecord, ModelStore
from walkforward.training import PreparedData, TrainRequest, train

ALGORITHMS: tuple[str, ...] = ("elasticnet_regression", "lightgbm_regressor")
PHASES: tuple[str, ...] = ("load", "folds", "final", "save")
PHASE_LABELS = {
    "load": "load (+ labels, folds plan)",
    "folds": "3 folds: fit + predict + metrics",
    "final": "final fit",
    "save": "save (+ registry row)",
}
REGISTRY_DB = OUT / "bench_registry.db"
MODELS_DIR = OUT / "models"
PLAIN_ARTIFACT = OUT / "plain_model.joblib"

err = Console(stderr=True)


# --------------------------------------------------------------------------- ours


def fresh_registry() -> ModelStore:
    """An empty registry. Deleted before every run of ours: otherwise the fingerprint check in
    ``train`` would find the model of the previous repeat and return it without fitting anything."""
    for p in (
        REGISTRY_DB,
        REGISTRY_DB.with_name(REGISTRY_DB.name + "-wal"),
        REGISTRY_DB.with_name(REGISTRY_DB.name + "-shm"),
    ):
        p.unlink(missing_ok=True)
    shutil.rmtree(MODELS_DIR, ignore_errors=True)
    return ModelStore.open(f"sqlite:///{REGISTRY_DB}", MODELS_DIR)


def train_request(algorithm: str) -> TrainRequest:
    return TrainRequest(
        symbol=",".join(SYMBOLS), algorithm=algorithm, timeframe="5m", target_transform="log_return", lookforward=1
    )


@dataclass
class RunResult:
    total: float
    phases: dict[str, float]
    r2: float
    extra: dict[str, Any] = field(default_factory=dict)


def run_ours(store: FeatureStore, algorithm: str) -> RunResult:
    """One ``train()`` call on a fresh registry; phases come from a timer around ``prepare`` and from the
    progress callback ``train`` already offers (the wrapper adds two clock reads, nothing else). ``fit``
    reports the final fit first, then each fold."""
    registry_t0 = time.perf_counter()
    registry = fresh_registry()
    registry_open = time.perf_counter() - registry_t0
    marks: dict[str, float] = {}
    real_prepare = training_run.prepare

    def timed_prepare(*args: Any, **kwargs: Any) -> PreparedData:
        out = real_prepare(*args, **kwargs)
        marks["load"] = time.perf_counter()
        return out

    def progress(label: str, done: int, total: int) -> None:
        if label == "final fit":
            marks["final"] = time.perf_counter()
        elif done == total:
            marks["folds"] = time.perf_counter()

    try:
        with mock.patch.object(training_run, "prepare", timed_prepare):  # the name ``train`` calls
            t0 = time.perf_counter()
            rec: ModelRecord = train(train_request(algorithm), store=store, registry=registry, progress=progress)
            t_end = time.perf_counter()
    finally:
        registry.dispose()
    phases = {
        "load": marks["load"] - t0,
        "final": marks["final"] - marks["load"],
        "folds": marks["folds"] - marks["final"],
        "save": t_end - marks["folds"],
    }
    return RunResult(
        total=t_end - t0,
        phases=phases,
        r2=float(rec.metrics["cv"]["r2"]),
        extra={
            "registry_open": registry_open,
            "features_in": len(rec.derived.get("input_features", [])),
            "features_kept": len(rec.features),
            "fold_rows": [(f["train_rows"], f["test_rows"]) for f in rec.folds["folds"]]
            if rec.folds["folds"] and "train_rows" in rec.folds["folds"][0]
            else None,
            "final_train_rows": rec.folds["final_train_rows"],
            "embargo": rec.folds["embargo"],
        },
    )


# --------------------------------------------------------------------------- plain pandas + scikit-learn


def _agg_for(base: str) -> str | Callable[[pd.Series], str]:
    """The loader bench's reference table, plus the split label for the merged per-minute label."""
    return aggressive_test_label if base == "data_split" else reference_agg(base)


def plain_load(store: FeatureStore) -> pd.DataFrame:
    """Read, suffix, merge, resample, target, drop prices and metadata, purge the train->test boundary."""
    frames: list[pd.DataFrame] = []
    bases: dict[str, str] = {}
    for i, sym in enumerate(SYMBOLS):
        files: Any = symbol_files(store, sym)  # pandas reads a list of files; its stubs accept one path
        df = pd.read_parquet(files).drop(columns=["options", "dt"], errors="ignore")
        names = {c: c if i == 0 else f"{c}_{sym}" for c in df.columns if c != "ts"}
        bases.update({new: old for old, new in names.items()})
        frames.append(df.rename(columns=names))
    merged = frames[0]
    for other in frames[1:]:
        merged = pd.merge(merged, other, on="ts", how="inner")
    # One split label per minute (test if any symbol's is), as the loader bench does, then resampled with
    # the reference's Python aggregator: one Python call per 5-minute calendar bucket, empty ones included.
    split_cols = [c for c in merged.columns if bases.get(c) == "data_split"]
    merged["split"] = np.where((merged[split_cols] == "test").any(axis=1), "test", "train")
    merged = merged.drop(columns=split_cols)
    bases["split"] = "data_split"
    agg: dict[str, Any] = {c: _agg_for(bases[c]) for c in merged.columns if c != "ts"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        out = merged.set_index("ts").resample("5min").agg(agg)
    out = out[out["close"].notna()].copy()
    out["target"] = np.log(out["close"].shift(-1) / out["close"])
    out = out[out["target"].notna()]
    drop = [c for c in out.columns if c != "split" and bases.get(c) in (*RAW_PRICE_COLUMNS, *METADATA_COLUMNS)]
    out = out.drop(columns=drop)
    s = out["split"]
    boundary = (s == "train") & (s.shift(-1) == "test")  # the reference's loader-level purge
    return out[~boundary]


def plain_folds(split: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference's block detection: contiguous runs, each test block with the train block before it."""
    block_id = (split != split.shift()).cumsum().to_numpy()
    labels = split.to_numpy()
    positions = np.arange(len(split))
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    prev_train: np.ndarray | None = None
    for b in np.unique(block_id):
        rows = positions[block_id == b]
        if labels[rows[0]] == "train":
            prev_train = rows
        elif prev_train is not None:
            folds.append((prev_train, rows))
    return folds


def plain_pipeline(algorithm: str) -> Pipeline:
    spec = get_algorithm(algorithm)
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="mean")),
            ("scale", StandardScaler()),
            ("model", spec.factory(**spec.defaults)),  # the same hyperparameters as ours (n_jobs=1 for LightGBM)
        ]
    )


def plain_fit(frame: pd.DataFrame, algorithm: str) -> tuple[list[dict[str, float]], Pipeline, float, float]:
    """Folds (fit, predict, r2/mse/mae) then the final fit; returns metrics, model and the two phase times."""
    X = frame.drop(columns=["split", "target"])
    y = frame["target"].to_numpy()
    t0 = time.perf_counter()
    metrics: list[dict[str, float]] = []
    for train_rows, test_rows in plain_folds(frame["split"]):
        pipe = plain_pipeline(algorithm).fit(X.iloc[train_rows], y[train_rows])
        pred = pipe.predict(X.iloc[test_rows])
        yt = y[test_rows]
        metrics.append(
            {
                "r2": float(skm.r2_score(yt, pred)),
                "mse": float(skm.mean_squared_error(yt, pred)),
                "mae": float(skm.mean_absolute_error(yt, pred)),
            }
        )
    t1 = time.perf_counter()
    train_rows_all = np.flatnonzero(frame["split"].to_numpy() == "train")
    final = plain_pipeline(algorithm).fit(X.iloc[train_rows_all], y[train_rows_all])
    return metrics, final, t1 - t0, time.perf_counter() - t1


def run_plain(store: FeatureStore, algorithm: str) -> RunResult:
    t0 = time.perf_counter()
    frame = plain_load(store)
    t1 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # as ours does around its fits
        metrics, final, t_folds, t_final = plain_fit(frame, algorithm)
    t2 = time.perf_counter()
    joblib.dump(final, PLAIN_ARTIFACT)
    t3 = time.perf_counter()
    return RunResult(
        total=t3 - t0,
        phases={"load": t1 - t0, "folds": t_folds, "final": t_final, "save": t3 - t2},
        r2=float(np.mean([m["r2"] for m in metrics])),
        extra={"folds": len(metrics), "features": frame.shape[1] - 2, "rows": len(frame)},
    )


def blas_thread_figure(store: FeatureStore, repeats: int) -> dict[str, Any]:
    """The plain elastic net's folds + final fit with and without ``threadpool_limits(1, "blas")``."""
    frame = plain_load(store)
    out: dict[str, Any] = {
        "blas": [
            {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    }
    for name, limit in (("limit_1", 1), ("default", None)):
        runs = []
        for _ in range(repeats):
            gc.collect()
            with threadpool_limits(limits=limit, user_api="blas"):
                t0 = time.perf_counter()
                plain_fit(frame, "elasticnet_regression")
                runs.append(time.perf_counter() - t0)
        out[name] = {"best": min(runs), "runs": runs}
        err.print(f"[dim]  elastic net fits, BLAS threads {name}: {min(runs):.3f} s[/dim]")
    out["default_over_limit_1"] = out["default"]["best"] / out["limit_1"]["best"]
    return out


# --------------------------------------------------------------------------- profile of ours

PROFILE_PARTS: tuple[tuple[str, str, str], ...] = (
    # (label, file suffix, function name): cumulative seconds
    ("train (whole call)", "walkforward/training/run.py", "train"),
    ("prepare", "walkforward/training/data.py", "prepare"),
    ("  load_dataset", "walkforward/data/loader.py", "load_dataset"),
    ("  data_signature (hash)", "walkforward/model_selection/fingerprint.py", "data_signature"),
    ("  make_folds", "walkforward/model_selection/splitters.py", "make_folds"),
    ("fit (final + folds)", "walkforward/training/fit.py", "fit"),
    ("  PValuePruner.fit", "walkforward/preprocessing/pruning.py", "fit"),
    ("  ElasticNet.fit", "sklearn/linear_model/_coordinate_descent.py", "fit"),
    ("  LGBMRegressor.fit", "lightgbm/sklearn.py", "fit"),
    ("  predict (pipelines)", "walkforward/training/fit.py", "predict_values"),
    ("  regression_metrics", "walkforward/evaluation/metrics.py", "regression_metrics"),
    ("register", "walkforward/training/run.py", "register"),
    ("  save_artifact", "walkforward/registry/artifacts.py", "save_artifact"),
)


def profile_ours(store: FeatureStore, algorithm: str, top: int = 12) -> dict[str, Any]:
    registry = fresh_registry()
    prof = cProfile.Profile()
    try:
        prof.enable()
        train(train_request(algorithm), store=store, registry=registry)
        prof.disable()
    finally:
        registry.dispose()
    st = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = st.stats  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    for label, suffix, func in PROFILE_PARTS:
        cum = [v[3] for (f, _, fn), v in raw.items() if fn == func and f.replace(os.sep, "/").endswith(suffix)]
        if cum:
            parts[label] = max(cum)  # the outermost entry (recursion would double count a sum)
    by_tottime = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    own = [{"function": f"{Path(f).name}:{ln}({fn})", "tottime": v[2], "calls": v[1]} for (f, ln, fn), v in by_tottime]
    return {"parts": parts, "top_tottime": own}


# --------------------------------------------------------------------------- timing and report


@dataclass
class Series:
    runs: list[RunResult] = field(default_factory=list)

    def best(self, phase: str | None = None) -> float:
        return min(r.total if phase is None else r.phases[phase] for r in self.runs)

    def median(self, phase: str | None = None) -> float:
        return statistics.median(r.total if phase is None else r.phases[phase] for r in self.runs)


@contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        yield


def bench_algorithm(store: FeatureStore, algorithm: str, repeats: int) -> dict[str, Series]:
    """One untimed warm-up of each way, then ``repeats`` timed runs interleaved (ours, plain, ours, ...)."""
    ways: dict[str, Callable[[], RunResult]] = {
        "ours": lambda: run_ours(store, algorithm),
        "plain": lambda: run_plain(store, algorithm),
    }
    series = {name: Series() for name in ways}
    for name, fn in ways.items():
        r = fn()
        err.print(f"[dim]{algorithm} warm-up {name}: {r.total:.2f} s[/dim]")
    for _ in range(repeats):
        for name, fn in ways.items():
            gc.collect()
            r = fn()
            series[name].runs.append(r)
            err.print(f"[dim]{algorithm} {name}: {r.total:.2f} s ({', '.join(f'{v:.2f}' for v in r.phases.values())})")
    return series


def _summary(s: Series) -> dict[str, Any]:
    return {
        "best": s.best(),
        "median": s.median(),
        "phases": {p: {"best": s.best(p), "median": s.median(p)} for p in PHASES},
        "runs": [r.total for r in s.runs],
        "r2_mean_folds": s.runs[-1].r2,
        "details": s.runs[-1].extra,
    }


def print_report(result: dict[str, Any], con: Console) -> None:
    for algorithm, res in result["algorithms"].items():
        ours, plain = res["ours"], res["plain"]
        tab = Table(
            title=f"{algorithm}: one training run, {len(SYMBOLS)} symbols x {result['days']} days at 5m "
            f"(best / median of {result['repeats']})"
        )
        for col in ("phase", "ours best", "ours median", "plain best", "plain median", "plain / ours"):
            tab.add_column(col, justify="left" if col == "phase" else "right")
        for p in PHASES:
            o, q = ours["phases"][p], plain["phases"][p]
            ratio = q["best"] / o["best"] if o["best"] > 0 else float("nan")
            tab.add_row(
                PHASE_LABELS[p],
                f"{o['best']:.3f}",
                f"{o['median']:.3f}",
                f"{q['best']:.3f}",
                f"{q['median']:.3f}",
                f"{ratio:.2f}x",
            )
        tab.add_row(
            "[bold]total[/bold]",
            f"{ours['best']:.3f}",
            f"{ours['median']:.3f}",
            f"{plain['best']:.3f}",
            f"{plain['median']:.3f}",
            f"[bold]{plain['best'] / ours['best']:.2f}x[/bold]",
        )
        tab.add_row("mean fold R2", f"{ours['r2_mean_folds']:.5f}", "", f"{plain['r2_mean_folds']:.5f}", "", "")
        con.print(tab)
        reg = ours["details"]["registry_open"]
        con.print(
            f"  ours: opening the fresh registry (migrations) took {reg:.3f} s more, outside the total; "
            f"features {ours['details']['features_kept']}/{ours['details']['features_in']} kept by pruning "
            f"(final model); embargo {ours['details']['embargo']} bars"
        )
    blas = result.get("blas_threads")
    if blas:
        con.print(
            f"plain elastic net folds + final fit: {blas['limit_1']['best']:.3f} s with one BLAS thread, "
            f"{blas['default']['best']:.3f} s with the default threads ({blas['default_over_limit_1']:.1f}x); "
            f"BLAS: {blas['blas']}"
        )
    for algorithm, prof in result.get("profile", {}).items():
        pt = Table(title=f"profile of ours, {algorithm} (cProfile, one run, cumulative s)")
        pt.add_column("part")
        pt.add_column("cum s", justify="right")
        for k, v in prof["parts"].items():
            pt.add_row(k, f"{v:.3f}")
        con.print(pt)
        tt = Table(title=f"top own time, {algorithm}")
        tt.add_column("function")
        tt.add_column("own s", justify="right")
        tt.add_column("calls", justify="right")
        for row in prof["top_tottime"]:
            tt.add_row(row["function"], f"{row['tottime']:.3f}", str(row["calls"]))
        con.print(tt)
    lb = result["loadavg_1m"]
    con.print(f"{result['cpus']} CPUs; 1-minute load average {lb['before']:.1f} before, {lb['after']:.1f} after")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each way after one warm-up (default 3)")
    ap.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma-separated (default: both)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (tables on stderr)")
    ap.add_argument("--profile", action="store_true", help="also profile one run of ours per algorithm (cProfile)")
    ap.add_argument("--no-blas-figure", action="store_true", help="skip the BLAS threads measurement")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    for a in algorithms:
        get_algorithm(a)

    store, reused = ensure_store(250)
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with quiet():
        for a in algorithms:
            series = bench_algorithm(store, a, args.repeats)
            results[a] = {name: _summary(s) for name, s in series.items()}
            results[a]["plain_over_ours"] = {
                "best": series["plain"].best() / series["ours"].best(),
                "median": series["plain"].median() / series["ours"].median(),
            }
        blas = None if args.no_blas_figure else blas_thread_figure(store, 1)
        prof = {a: profile_ours(store, a) for a in algorithms} if args.profile else {}
    load_after = os.getloadavg()
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "days": 250,
        "symbols": list(SYMBOLS),
        "store_reused": reused,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "loadavg_1m": {"before": load_before[0], "after": load_after[0]},
        "versions": {
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__,
        },
        "algorithms": results,
        "blas_threads": blas,
        "profile": prof,
    }
    if args.json:  # the tables still go to stderr, for a human watching
        print(json.dumps(result, indent=1, default=str))
        print_report(result, err)
    else:
        print_report(result, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
