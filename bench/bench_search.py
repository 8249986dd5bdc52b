"""Benchmark: hyperparameter search over 3 walk-forward folds, ours against scikit-learn's GridSearchCV.

AAPL,MSFT,QQQ x 250 days at 5m, target ``log_return``, lookforward 1, default embargo (the shared store of
``bench_loader.py``). Three parts, in one run:

1. **elastic net**, the reference's default 56-combination grid (8 alphas x 7 l1_ratios):
   ``run_search(SearchRequest(symbol=..., algorithm=..., search="grid", explain=False), ...,
   executor=LocalExecutor(n_jobs=1|2))``
   on a fresh registry per run, against ``GridSearchCV(build_pipeline(ElasticNet(**defaults), linear=True,
   p_value_threshold=0.05), grid, cv=<the same 3 folds>, scoring="r2", refit=True, n_jobs=1|2)`` fitted on
   ``prepare(...)``'s ``data.X, data.y`` under ``threadpool_limits(1, "blas")``; GridSearchCV also once
   without that limit. Same best parameters asserted; the max |score difference| over the 56 is reported.
2. **LightGBM**, 16 combinations (num_leaves x learning_rate, 200 trees, one LightGBM thread per model),
   ours with ``n_jobs=2`` against GridSearchCV with ``n_jobs=2``.
3. **successive halving and Optuna** on a 48-combination LightGBM grid (100 trees): ours with
   ``search="halving"`` and ``search="optuna"`` (12 trials) against the exhaustive ``search="grid"``.

What each of ours' numbers covers (from timers wrapped around ``run_search``'s own steps, nothing else):
``total`` is the whole ``run_search`` call; ``prepare`` is ``training.prepare`` (load, labels, folds, data
hash); ``search`` = total - prepare. Inside it: ``fold prep`` (``SearchRun.shared``: impute, prune, scale
fitted once per fold), ``scoring`` (every combination on every fold), ``best: fit + save`` (final
preprocessing + fit of the best on the final training rows + registry row + artifact) and ``other``
(fingerprints, registry look-ups, cohort ranking). GridSearchCV's figure is its ``fit`` call on the
already prepared data (its refit included), so it is compared with ours' ``search``.

Scaled down to fit ~10 minutes on 2 quiet cores: part 3 runs each strategy once (``--strategy-repeats``),
and the LightGBM boosting floor is opt-in (``--floor``). On a loaded machine the whole run takes far longer.
Run ``.venv/bin/python bench/bench_search.py`` (``make bench``); ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import re
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import lightgbm
import numpy as np
import pandas as pd
import sklearn
from bench_loader import OUT, SYMBOLS, ensure_store
from rich.console import Console
from rich.table import Table
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_info, threadpool_limits

import walkforward.search.run as search_run
from walkforward.features.store import FeatureStore
from walkforward.model_selection.evaluators import predict_grid, prepare_fold
from walkforward.model_selection.executors import LocalExecutor
from walkforward.models import get_algorithm
from walkforward.preprocessing.pipeline import build_pipeline
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, SearchResult, run_search
from walkforward.search.strategies import STRATEGIES
from walkforward.training import PreparedData, TrainRequest, prepare

ENET = "elasticnet_regression"
LGBM = "lightgbm_regressor"
LGBM_GRID: dict[str, list[Any]] = {"num_leaves": [15, 31, 63, 127], "learning_rate": [0.01, 0.03, 0.05, 0.1]}
LGBM_GRID_REQUEST = {"num_leaves_grid": LGBM_GRID["num_leaves"], "lgbm_learning_rate_grid": LGBM_GRID["learning_rate"]}
LGBM_TREES = 200
HALVING_GRID_REQUEST: dict[str, list[Any]] = {
    "num_leaves_grid": [7, 15, 31, 63],
    "min_data_in_leaf_grid": [20, 50, 100],
    "lgbm_learning_rate_grid": [0.03, 0.1],
    "lambda_l2_grid": [0.0, 1.0],
}
HALVING_TREES = 100
OPTUNA_TRIALS = 12
GOAL_ENET = 10.0  # GridSearchCV / ours' search phase, at least
GOAL_LGBM = 2.0
REGISTRY_DIR = OUT / "search"

err = Console(stderr=True)


# --------------------------------------------------------------------------- ours, instrumented


def fresh_registry() -> ModelStore:
    """An empty registry, so that no run finds the previous one's models by fingerprint and skips them."""
    shutil.rmtree(REGISTRY_DIR, ignore_errors=True)
    REGISTRY_DIR.mkdir(parents=True)
    return ModelStore.open(f"sqlite:///{REGISTRY_DIR / 'registry.db'}", REGISTRY_DIR / "models")


@dataclass
class OursRun:
    total: float
    phases: dict[str, float]
    scores: dict[tuple[tuple[str, Any], ...], float]  # grid point (only the searched keys) -> mean fold R2
    best_params: dict[str, Any]
    best_cv: float | None
    result: SearchResult


def grid_key(params: Mapping[str, Any], keys: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, float(params[k])) for k in sorted(keys))


@contextmanager
def instrumented() -> Iterator[dict[str, Any]]:
    """Inclusive timers around run_search's own steps, and the SearchRun object (for its per-combination scores)."""
    acc: dict[str, Any] = {"prepare": 0.0, "strategy": 0.0, "fold_prep": 0.0, "final_prep": 0.0, "save_best": 0.0}

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[label] += time.perf_counter() - t0

        return wrapper

    real_shared = search_run.SearchRun.shared
    real_init = search_run.SearchRun.__init__

    def shared(self: Any, *, with_final: bool) -> Any:
        t0 = time.perf_counter()
        try:
            return real_shared(self, with_final=with_final)
        finally:
            acc["final_prep" if with_final else "fold_prep"] += time.perf_counter() - t0

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        acc["search"] = self
        real_init(self, *args, **kwargs)

    with (
        mock.patch.object(search_run, "prepare", timed("prepare", search_run.prepare)),
        mock.patch.dict(STRATEGIES, {name: timed("strategy", fn) for name, fn in STRATEGIES.items()}),
        mock.patch.object(search_run.SearchRun, "save_best", timed("save_best", search_run.SearchRun.save_best)),
        mock.patch.object(search_run.SearchRun, "shared", shared),
        mock.patch.object(search_run.SearchRun, "__init__", init),
    ):
        yield acc


def search_request(algorithm: str, **fields: Any) -> SearchRequest:
    """The benchmark's search over the shared store: 5m bars, log returns, no explanations, only the best saved."""
    return SearchRequest(
        **{
            "symbol": ",".join(SYMBOLS),
            "algorithm": algorithm,
            "timeframe": "5m",
            "target_transform": "log_return",
            "search": "grid",
            "explain": False,
            "save_all_grid_models": False,
            **fields,
        }
    )


def run_ours(store: FeatureStore, sreq: SearchRequest, keys: Sequence[str], n_jobs: int) -> OursRun:
    registry = fresh_registry()
    try:
        with instrumented() as acc:
            t0 = time.perf_counter()
            result = run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=n_jobs))
            total = time.perf_counter() - t0
    finally:
        registry.dispose()
    s = acc["search"]
    scores = {grid_key(s.combos[i], keys): float(v) for i, v in s.scores.items()}
    # The halving strategy measures its fold preprocessing inside HalvingGridSearchCV: no separate figure.
    strategy_only = acc["strategy"] - acc["save_best"]
    phases = {
        "prepare": acc["prepare"],
        "search": total - acc["prepare"],
        "fold prep": acc["fold_prep"],
        "scoring": strategy_only - acc["fold_prep"],
        "best: fit + save": acc["save_best"],
        "other": total - acc["prepare"] - acc["strategy"],
    }
    best = result.best
    return OursRun(
        total=total,
        phases=phases,
        scores=scores,
        best_params={k: best.hyperparameters[k] for k in keys} if best else {},
        best_cv=best.cv_score if best else None,
        result=result,
    )


# --------------------------------------------------------------------------- scikit-learn


@dataclass
class SklearnRun:
    total: float
    scores: dict[tuple[tuple[str, Any], ...], float]
    best_params: dict[str, Any]
    fit_seconds: float  # sum over the fits of their fit time (CPU-ish seconds, across workers)
    score_seconds: float
    refit: float


def sklearn_pipeline(algorithm: str, fixed: Mapping[str, Any] | None = None) -> Pipeline:
    spec = get_algorithm(algorithm)
    est = spec.factory(**{**spec.defaults, **(fixed or {})})
    return build_pipeline(est, linear=spec.family == "linear", p_value_threshold=0.05)


def run_sklearn(
    data: PreparedData, pipe: Pipeline, grid: Mapping[str, Sequence[Any]], n_jobs: int, *, limit_blas: bool = True
) -> SklearnRun:
    cv = [(f.train_index, f.test_index) for f in data.plan.folds]
    gs = GridSearchCV(
        pipe,
        {f"model__{k}": list(v) for k, v in grid.items()},
        cv=cv,
        scoring="r2",
        n_jobs=n_jobs,
        refit=True,
        error_score="raise",
    )
    X, y = data.X, data.y
    with threadpool_limits(limits=1 if limit_blas else None, user_api="blas"):
        t0 = time.perf_counter()
        gs.fit(X, y)
        total = time.perf_counter() - t0
    res = gs.cv_results_
    keys = list(grid)
    scores = {
        grid_key({k.removeprefix("model__"): v for k, v in p.items()}, keys): float(s)
        for p, s in zip(res["params"], res["mean_test_score"], strict=True)
    }
    n_folds = len(cv)
    return SklearnRun(
        total=total,
        scores=scores,
        best_params={k.removeprefix("model__"): v for k, v in gs.best_params_.items()},
        fit_seconds=float(np.sum(res["mean_fit_time"]) * n_folds),
        score_seconds=float(np.sum(res["mean_score_time"]) * n_folds),
        refit=float(gs.refit_time_),
    )


# --------------------------------------------------------------------------- helpers


def stats(values: Sequence[float]) -> dict[str, Any]:
    return {"best": min(values), "median": statistics.median(values), "runs": list(values)}


def max_score_diff(a: Mapping[Any, float], b: Mapping[Any, float]) -> tuple[float, int]:
    common = set(a) & set(b)
    if not common:
        return float("nan"), 0
    return max(abs(a[k] - b[k]) for k in common), len(common)


def rank_of(scores: Mapping[Any, float], key: Any) -> int:
    """1 = the best; ties share the better rank."""
    return 1 + sum(1 for v in scores.values() if v > scores[key])


def same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return set(a) == set(b) and all(float(a[k]) == float(b[k]) for k in a)


def timings(ours: Sequence[OursRun], sk: Sequence[SklearnRun]) -> dict[str, Any]:
    """Seconds of both ways, their ratios (GridSearchCV over ours' search phase and total) and best params."""

    def ratio(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
        return {"best": min(num) / min(den), "median": statistics.median(num) / statistics.median(den)}

    sk_total = [x.total for x in sk]
    return {
        "ours_total": stats([x.total for x in ours]),
        "ours_phases": phase_stats(ours),
        "sklearn": stats(sk_total),
        "sklearn_fit_seconds": stats([x.fit_seconds for x in sk]),
        "sklearn_score_seconds": stats([x.score_seconds for x in sk]),
        "sklearn_refit": stats([x.refit for x in sk]),
        "ratio_search": ratio(sk_total, [x.phases["search"] for x in ours]),
        "ratio_total": ratio(sk_total, [x.total for x in ours]),
        "best_params_ours": ours[-1].best_params,
        "best_params_sklearn": sk[-1].best_params,
    }


def phase_stats(runs: Sequence[OursRun]) -> dict[str, Any]:
    return {p: stats([r.phases[p] for r in runs]) for p in runs[0].phases}


def progress(msg: str) -> None:
    err.print(f"[dim]{time.strftime('%H:%M:%S')} {msg}[/dim]")


# --------------------------------------------------------------------------- part 1: elastic net


def preprocessing_cost(data: PreparedData, algorithm: str) -> float:
    """Seconds to fit + transform the preprocessing (impute, prune, scale) on the 3 folds once, one BLAS thread."""
    pre = sklearn_pipeline(algorithm)[:-1]
    t0 = time.perf_counter()
    for f in data.plan.folds:
        prepare_fold(pre, data.X, data.y, f.train_index, f.test_index, f.number)
    return time.perf_counter() - t0


def bench_enet(store: FeatureStore, data: PreparedData, repeats: int, jobs: Sequence[int], budget: float) -> dict:
    keys = ["alpha", "l1_ratio"]
    spec = get_algorithm(ENET)
    grid = {"alpha": list(spec.grid["alpha"]), "l1_ratio": list(spec.grid["l1_ratio"])}
    sreq = search_request(ENET)
    pipe = sklearn_pipeline(ENET)
    ours: dict[int, list[OursRun]] = {j: [] for j in jobs}
    sk: dict[int, list[SklearnRun]] = {j: [] for j in jobs}
    for r in range(repeats):
        for j in jobs:
            gc.collect()
            run = run_ours(store, sreq, keys, j)
            assert run.result.grid_size == 56, f"expected the 56-combination default grid, got {run.result.grid_size}"
            ours[j].append(run)
            progress(f"enet repeat {r + 1}: ours n_jobs={j} {run.total:.2f} s (search {run.phases['search']:.2f} s)")
            gc.collect()
            skr = run_sklearn(data, clone(pipe), grid, j)
            sk[j].append(skr)
            progress(f"enet repeat {r + 1}: GridSearchCV n_jobs={j} {skr.total:.2f} s")
    out: dict[str, Any] = {"grid_size": 56, "jobs": {}}
    for j in jobs:
        o, s = ours[j], sk[j]
        diff, n = max_score_diff(o[-1].scores, s[-1].scores)
        same = same_params(o[-1].best_params, s[-1].best_params)
        out["jobs"][str(j)] = {
            **timings(o, s),
            "same_best": same,
            "max_abs_score_diff": diff,
            "combos_compared": n,
            "ours_best_cv_registered": o[-1].best_cv,
            "sklearn_best_score": max(s[-1].scores.values()),
            "notes": o[-1].result.notes,
        }
        assert same, f"best parameters differ: ours {o[-1].best_params}, GridSearchCV {s[-1].best_params}"
    out["unlimited_blas"] = enet_unlimited(data, pipe, grid, budget, min(x.total for x in sk[jobs[0]]))
    out["preprocessing_3_folds"] = preprocessing_cost(data, ENET)
    return out


def enet_unlimited(
    data: PreparedData, pipe: Pipeline, grid: Mapping[str, Sequence[Any]], budget: float, limited: float
) -> dict[str, Any]:
    """GridSearchCV n_jobs=1 once without the BLAS limit; on a subset first if the full grid would blow the budget."""
    blas = [
        {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    probe_grid = {"alpha": list(grid["alpha"])[:1], "l1_ratio": list(grid["l1_ratio"])[:1]}
    probe = run_sklearn(data, clone(pipe), probe_grid, 1, limit_blas=False)  # 3 fits + 1 refit
    per_combo = probe.total / 1.33  # the refit is on ~4x the rows of a fold: count it as a third of a combination
    projected = per_combo * 56
    if projected <= budget:
        run = run_sklearn(data, clone(pipe), grid, 1, limit_blas=False)
        return {
            "blas": blas,
            "combos": 56,
            "seconds": run.total,
            "extrapolated": False,
            "over_limited": run.total / limited,
        }
    k = max(1, min(56, int(budget / max(per_combo, 1e-9))))
    sub = {"alpha": list(grid["alpha"]), "l1_ratio": list(grid["l1_ratio"])[: max(1, k // 8)]}
    n = len(sub["alpha"]) * len(sub["l1_ratio"])
    run = run_sklearn(data, clone(pipe), sub, 1, limit_blas=False)
    est = run.total * 56 / n
    return {
        "blas": blas,
        "combos": n,
        "seconds": run.total,
        "extrapolated": True,
        "seconds_56": est,
        "over_limited": est / limited,
    }


# --------------------------------------------------------------------------- part 2: LightGBM grid


def lgbm_floor(data: PreparedData) -> dict[str, float]:
    """Ours' scoring step done in this process, one thread: the CPU seconds of boosting 16 x 3 models."""
    spec = get_algorithm(LGBM)
    combos = [
        {**spec.defaults, "n_estimators": LGBM_TREES, "num_leaves": nl, "learning_rate": lr}
        for nl in LGBM_GRID["num_leaves"]
        for lr in LGBM_GRID["learning_rate"]
    ]
    pre = sklearn_pipeline(LGBM)[:-1]
    t0 = time.perf_counter()
    folds = [prepare_fold(pre, data.X, data.y, f.train_index, f.test_index, f.number) for f in data.plan.folds]
    t1 = time.perf_counter()
    per_leaves: dict[str, float] = {}
    for nl in LGBM_GRID["num_leaves"]:
        sub = [c for c in combos if c["num_leaves"] == nl]
        ts = time.perf_counter()
        for fold in folds:
            predict_grid(spec, sub, fold)
        per_leaves[str(nl)] = time.perf_counter() - ts
    return {
        "fold_prep": t1 - t0,
        "boosting": sum(per_leaves.values()),
        **{f"num_leaves={k}": v for k, v in per_leaves.items()},
    }


def bench_lgbm(store: FeatureStore, data: PreparedData, repeats: int, floor: bool) -> dict[str, Any]:
    keys = list(LGBM_GRID)
    sreq = search_request(
        LGBM, hyperparameters={"n_estimators": LGBM_TREES}, grids=LGBM_GRID_REQUEST, use_default_grid=False
    )
    pipe = sklearn_pipeline(LGBM, {"n_estimators": LGBM_TREES, "n_jobs": 1})
    ours: list[OursRun] = []
    sk: list[SklearnRun] = []
    for r in range(repeats):
        gc.collect()
        ours.append(run_ours(store, sreq, keys, 2))
        progress(f"lgbm repeat {r + 1}: ours {ours[-1].total:.2f} s (search {ours[-1].phases['search']:.2f} s)")
        gc.collect()
        sk.append(run_sklearn(data, clone(pipe), LGBM_GRID, 2))
        progress(f"lgbm repeat {r + 1}: GridSearchCV {sk[-1].total:.2f} s")
    diff, n = max_score_diff(ours[-1].scores, sk[-1].scores)
    out: dict[str, Any] = {
        "grid_size": ours[-1].result.grid_size,
        **timings(ours, sk),
        "same_best": same_params(ours[-1].best_params, sk[-1].best_params),
        "max_abs_score_diff": diff,
        "combos_compared": n,
        "preprocessing_3_folds": preprocessing_cost(data, LGBM),
    }
    if floor:
        progress("lgbm: boosting floor (ours' scoring in-process, one thread)")
        out["floor"] = lgbm_floor(data)
    return out


# --------------------------------------------------------------------------- part 3: halving and Optuna

_HALVING_NOTE = re.compile(r"halving over rounds .*?; ([\d.]+)% of the exhaustive grid's boosting rounds")


def bench_strategies(store: FeatureStore, repeats: int) -> dict[str, Any]:
    keys = ["num_leaves", "min_child_samples", "learning_rate", "reg_lambda"]
    runs: dict[str, list[OursRun]] = {"grid": [], "halving": [], "optuna": []}
    for r in range(repeats):
        for strategy in runs:
            sreq = search_request(
                LGBM,
                hyperparameters={"n_estimators": HALVING_TREES},
                grids=HALVING_GRID_REQUEST,
                use_default_grid=False,
                search=strategy,
                n_trials=OPTUNA_TRIALS,
            )
            gc.collect()
            run = run_ours(store, sreq, keys, 2)
            runs[strategy].append(run)
            progress(f"strategies repeat {r + 1}: {strategy} {run.total:.2f} s")
    exhaustive = runs["grid"][-1].scores
    size = runs["grid"][-1].result.grid_size
    best_key = max(exhaustive, key=lambda k: exhaustive[k])
    out: dict[str, Any] = {
        "grid_size": size,
        "exhaustive_best": exhaustive[best_key],
        "exhaustive_best_params": dict(best_key),
    }
    for strategy, rs in runs.items():
        last = rs[-1]
        pick = grid_key(last.best_params, keys)
        entry: dict[str, Any] = {
            "total": stats([x.total for x in rs]),
            "search": stats([x.phases["search"] for x in rs]),
            "best_params": last.best_params,
            "best_cv": last.best_cv,
            "pick_exhaustive_score": exhaustive.get(pick),
            "gap_to_exhaustive_best": exhaustive[best_key] - exhaustive[pick] if pick in exhaustive else None,
            "rank_in_exhaustive": rank_of(exhaustive, pick) if pick in exhaustive else None,
            "same_pick_every_repeat": len({tuple(sorted(x.best_params.items())) for x in rs}) == 1,
            "notes": last.result.notes,
        }
        if strategy == "halving":
            m = next((_HALVING_NOTE.search(n) for n in last.result.notes if _HALVING_NOTE.search(n)), None)
            if m:  # halving cuts boosting rounds, never rows: the budget is the share of rounds trained
                entry["fraction_fits"] = entry["fraction_rows"] = float(m.group(1)) / 100
        elif strategy == "optuna":
            entry["fraction_fits"] = last.result.tried / size
            entry["fraction_rows"] = last.result.tried / size
        else:
            entry["fraction_fits"] = entry["fraction_rows"] = 1.0
        out[strategy] = entry
    return out


# --------------------------------------------------------------------------- report


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}" if x < 10 else f"{x:.2f}"


def _bs(d: Mapping[str, Any]) -> tuple[str, str]:
    return _s(d["best"]), _s(d["median"])


def _bm(d: Mapping[str, Any]) -> str:
    return "{} / {}".format(*_bs(d))


def _ratio(d: Mapping[str, float]) -> str:
    return f"{d['best']:.1f}x / {d['median']:.1f}x"


def _params(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def _ok(b: bool) -> str:
    return "[green]yes[/green]" if b else "[red]no[/red]"


def print_report(res: Mapping[str, Any], console: Console) -> None:
    console.print(
        f"[bold]Search benchmark[/bold] {res['date']}: {', '.join(res['symbols'])} x {res['days']} days, 5m, "
        f"{res['cpus']} CPUs, load average (1 min) {res['loadavg_1m']['before']:.2f} before, "
        f"{res['loadavg_1m']['after']:.2f} after; {res['repeats']} repeat(s); whole run {res['wall']:.0f} s"
    )
    console.print(f"prepare (load, labels, folds, hash) once: {_s(res['prepare_once'])} s")
    en = res.get("enet")
    if en:
        t = Table(title="1. Elastic net, 56 combinations x 3 folds (seconds; best / median)")
        t.add_column("what")
        for j in en["jobs"]:
            t.add_column(f"n_jobs={j}", justify="right")
        rows: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
            ("ours: run_search total", lambda d: _bm(d["ours_total"])),
            ("  prepare", lambda d: _bm(d["ours_phases"]["prepare"])),
            ("  search = total - prepare", lambda d: _bm(d["ours_phases"]["search"])),
            ("    fold prep (3 folds)", lambda d: _bm(d["ours_phases"]["fold prep"])),
            ("    scoring (56 x 3)", lambda d: _bm(d["ours_phases"]["scoring"])),
            ("    best: fit + save", lambda d: _bm(d["ours_phases"]["best: fit + save"])),
            ("    other", lambda d: _bm(d["ours_phases"]["other"])),
            ("GridSearchCV.fit (incl. refit)", lambda d: _bm(d["sklearn"])),
            ("  sum of fit times (168 fits)", lambda d: _bm(d["sklearn_fit_seconds"])),
            ("  refit", lambda d: _bm(d["sklearn_refit"])),
            ("GridSearchCV / ours search", lambda d: _ratio(d["ratio_search"])),
            ("GridSearchCV / ours total", lambda d: _ratio(d["ratio_total"])),
            (f"goal >= {GOAL_ENET:g}x (search) met", lambda d: _ok(d["ratio_search"]["best"] >= GOAL_ENET)),
            ("best params ours", lambda d: _params(d["best_params_ours"])),
            ("best params GridSearchCV", lambda d: _params(d["best_params_sklearn"])),
            ("same best params", lambda d: _ok(d["same_best"])),
            ("max |score diff| (56 combos)", lambda d: f"{d['max_abs_score_diff']:.2e}"),
        ]
        for label, fn in rows:
            t.add_row(label, *[fn(d) for d in en["jobs"].values()])
        console.print(t)
        u = en["unlimited_blas"]
        threads = ", ".join(f"{b['internal_api']} {b['version']} x{b['num_threads']}" for b in u["blas"])
        if u["extrapolated"]:
            console.print(
                f"GridSearchCV n_jobs=1 without the BLAS limit ({threads}): {_s(u['seconds'])} s on {u['combos']} "
                f"combinations, {_s(u['seconds_56'])} s extrapolated to 56 = {u['over_limited']:.1f}x the limited run"
            )
        else:
            console.print(
                f"GridSearchCV n_jobs=1 without the BLAS limit ({threads}): {_s(u['seconds'])} s "
                f"= {u['over_limited']:.2f}x the limited run"
            )
        console.print(f"preprocessing fitted once on the 3 folds: {_s(en['preprocessing_3_folds'])} s")
    lg = res.get("lgbm")
    if lg:
        t = Table(
            title=f"2. LightGBM, {lg['grid_size']} combinations x 3 folds, {LGBM_TREES} trees, n_jobs=2 (seconds)"
        )
        t.add_column("what")
        t.add_column("best", justify="right")
        t.add_column("median", justify="right")
        for label, d in [
            ("ours: run_search total", lg["ours_total"]),
            ("  prepare", lg["ours_phases"]["prepare"]),
            ("  search = total - prepare", lg["ours_phases"]["search"]),
            ("    fold prep (3 folds)", lg["ours_phases"]["fold prep"]),
            ("    scoring (16 x 3, 2 workers)", lg["ours_phases"]["scoring"]),
            ("    best: fit + save", lg["ours_phases"]["best: fit + save"]),
            ("    other", lg["ours_phases"]["other"]),
            ("GridSearchCV.fit (incl. refit)", lg["sklearn"]),
            ("  sum of fit times (48 fits)", lg["sklearn_fit_seconds"]),
            ("  refit", lg["sklearn_refit"]),
        ]:
            t.add_row(label, *_bs(d))
        t.add_row(
            "GridSearchCV / ours search", f"{lg['ratio_search']['best']:.2f}x", f"{lg['ratio_search']['median']:.2f}x"
        )
        t.add_row(
            "GridSearchCV / ours total", f"{lg['ratio_total']['best']:.2f}x", f"{lg['ratio_total']['median']:.2f}x"
        )
        t.add_row(f"goal >= {GOAL_LGBM:g}x (search) met", _ok(lg["ratio_search"]["best"] >= GOAL_LGBM), "")
        t.add_row("best params ours", _params(lg["best_params_ours"]), "")
        t.add_row("best params GridSearchCV", _params(lg["best_params_sklearn"]), "")
        t.add_row("same best params", _ok(lg["same_best"]), "")
        t.add_row("max |score diff| (16 combos)", f"{lg['max_abs_score_diff']:.2e}", "")
        console.print(t)
        console.print(f"preprocessing fitted once on the 3 folds: {_s(lg['preprocessing_3_folds'])} s")
        if "floor" in lg:
            fl = lg["floor"]
            parts = ", ".join(f"{k} {_s(v)} s" for k, v in fl.items() if k.startswith("num_leaves"))
            console.print(
                f"boosting floor (ours' scoring in-process, 1 thread): {_s(fl['boosting'])} s for 48 models "
                f"({parts}); fold prep {_s(fl['fold_prep'])} s"
            )
    st = res.get("strategies")
    if st:
        t = Table(
            title=f"3. Strategies on a {st['grid_size']}-combination LightGBM grid, {HALVING_TREES} trees, n_jobs=2"
        )
        for c in (
            "strategy",
            "total s (best/med)",
            "search s (best/med)",
            "fits",
            "rows",
            "pick's CV R2",
            "gap to best",
            "rank",
            "pick",
        ):
            t.add_column(c, justify="left" if c in ("strategy", "pick") else "right")
        for name in ("grid", "halving", "optuna"):
            e = st[name]
            t.add_row(
                name,
                _bm(e["total"]),
                _bm(e["search"]),
                f"{e.get('fraction_fits', float('nan')):.1%}",
                f"{e.get('fraction_rows', float('nan')):.1%}",
                f"{e['pick_exhaustive_score']:.5f}" if e["pick_exhaustive_score"] is not None else "-",
                f"{e['gap_to_exhaustive_best']:.5f}" if e["gap_to_exhaustive_best"] is not None else "-",
                f"{e['rank_in_exhaustive']}/{st['grid_size']}" if e["rank_in_exhaustive"] else "-",
                _params(e["best_params"]),
            )
        console.print(t)
        for n in st["halving"]["notes"]:
            console.print(f"[dim]halving note: {n}[/dim]")


# --------------------------------------------------------------------------- main


@contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each way, interleaved (default 2)")
    ap.add_argument("--parts", default="enet,lgbm,strategies", help="comma-separated subset of enet,lgbm,strategies")
    ap.add_argument("--enet-jobs", default="1,2", help="n_jobs values for the elastic net part (default 1,2)")
    ap.add_argument(
        "--unlimited-budget",
        type=float,
        default=90.0,
        help="seconds allowed for GridSearchCV without the BLAS limit; beyond, a subset is run and extrapolated",
    )
    ap.add_argument(
        "--strategy-repeats",
        type=int,
        default=1,
        help="runs of each strategy in part 3 (default 1: the picks are seeded, and 3 runs take ~4-8 min here)",
    )
    ap.add_argument(
        "--floor", action="store_true", help="also time ours' LightGBM scoring in-process on one thread (~1.5-3 min)"
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (tables on stderr)")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.strategy_repeats < 1:
        ap.error("--repeats and --strategy-repeats must be >= 1")
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    jobs = [int(j) for j in args.enet_jobs.split(",") if j.strip()]

    started = time.perf_counter()
    store, reused = ensure_store(250)
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "days": 250,
        "symbols": list(SYMBOLS),
        "store_reused": reused,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "versions": {
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__,
        },
    }
    with quiet():
        registry = fresh_registry()
        try:
            t0 = time.perf_counter()
            train = TrainRequest(
                symbol=",".join(SYMBOLS), algorithm=ENET, timeframe="5m", target_transform="log_return"
            )
            data = prepare(train, store=store, registry=registry)
            result["prepare_once"] = time.perf_counter() - t0
        finally:
            registry.dispose()
        result["data"] = {
            "rows": len(data.y),
            "features": len(data.features),
            "folds": [(len(f.train_index), len(f.test_index)) for f in data.plan.folds],
            "embargo": data.plan.embargo,
        }
        if "enet" in parts:
            result["enet"] = bench_enet(store, data, args.repeats, jobs, args.unlimited_budget)
        if "lgbm" in parts:
            result["lgbm"] = bench_lgbm(store, data, args.repeats, floor=args.floor)
        if "strategies" in parts:
            result["strategies"] = bench_strategies(store, args.strategy_repeats)
    load_after = os.getloadavg()
    result["loadavg_1m"] = {"before": load_before[0], "after": load_after[0]}
    result["wall"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        print_report(result, err)
    else:
        print_report(result, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
