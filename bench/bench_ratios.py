"""Issue 9's ratios on the bench market (AAPL,QQQ,VIX x 120 days, 40:10, 5m, embargo 12; market seed 7).

Five parts, each measured side by side in one run on the same files (``--parts`` picks some):

- ``staged``: one booster / forest trained to the largest ``n_estimators`` scores every smaller count
  (``predict_grid`` on a cached fold) exactly as separate fits do: the max |prediction difference| over
  counts 25, 50, 100, 200 and both folds, for LightGBM, XGBoost and random forest (goal <= 1e-9).
- ``lgbm16``: a 4 num_leaves x 4 n_estimators LightGBM grid, ours (``run_search`` in-process, 2 workers,
  and the whole CLI command) against ``GridSearchCV`` over the same pipeline and the same folds
  (``cv=`` our ``FoldPlan``), 2 workers, one LightGBM thread per worker, ``refit=False`` and the best
  fitted on the final training rows as ours does. Goal: GridSearchCV / ours' search phase >= 2, same scores.
  LightGBM has no ``n_estimators`` grid name: :mod:`rounds_grid` adds one for this process and its CLI runs.
- ``enet``: the elastic net's 56-combination default grid: the whole CLI command from the shell (imports
  included, fresh registry each run, median of ``--cli-repeats``; goal <= 3.0 s) and ours' search phase
  against GridSearchCV with n_jobs=1 and 2 (goal >= 10x). Over the goal (or with ``--profile``): where the
  command's time goes (``-X importtime`` by library, cProfile by step).
- ``kill``: SIGTERM / SIGKILL mid-search, best-only / save-all, then the rerun (:mod:`ratios_kill`).
- ``startup``: ``walkforward --help`` and ``walkforward models list`` (300 rows), median of 5 (``bench_startup``).

CPU = user + sys of the process tree (this process, its workers, its finished children). Searches use
fresh registries under ``bench/out/ratios``. Progress goes to stderr; ``--json`` prints the results on
stdout (tables on stderr); ``--quick`` is a small smoke run (tiny grids, 1-2 repeats).

    .venv/bin/python bench/bench_ratios.py [--parts staged,lgbm16,enet,kill,startup] [--quick] [--json]
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
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from bench_search import grid_key, instrumented
from cli_runs import children_cpu, cli_argv, cli_env, tree_cpu
from rich.console import Console
from rich.table import Table
from rounds_grid import allow_rounds_grid
from scale_market import OUT, SCALE_REQUEST, ensure_market
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

import walkforward.search.run as search_run
from walkforward.features.store import FeatureStore
from walkforward.model_selection.evaluators import predict_grid, prepare_fold
from walkforward.model_selection.executors import LocalExecutor, make_executor
from walkforward.models import get_algorithm
from walkforward.models.catalog import AlgorithmSpec
from walkforward.preprocessing.pipeline import build_pipeline
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, run_search
from walkforward.training import PreparedData, TrainRequest, prepare

RUNS = OUT / "ratios"
LGBM, ENET = "lightgbm_regressor", "elasticnet_regression"
ROUNDS, QUICK_ROUNDS = (25, 50, 100, 200), (5, 10, 20)
#: (label, algorithm, fixed parameters): the defaults, and variants that draw rows / columns every round.
STAGED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("LightGBM", LGBM, {}),
    ("LightGBM bagged + col-sampled", LGBM, {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.7}),
    ("XGBoost (subsample 0.8)", "xgboost_regressor", {}),
    ("XGBoost + col-sampled", "xgboost_regressor", {"colsample_bytree": 0.7}),
    ("random forest", "random_forest_regressor", {}),
)
LGBM16 = {"num_leaves_grid": [15, 31, 63, 127], "n_estimators_grid": [50, 100, 150, 200]}
QUICK_LGBM16 = {"num_leaves_grid": [7, 15], "n_estimators_grid": [10, 20]}
GOALS = {"staged": 1e-9, "lgbm16": 2.0, "enet_cli": 3.0, "enet_search": 10.0}
COMMON_ARGS = ["AAPL,QQQ,VIX", "--search", "grid", "--no-explain", "--embargo", "12", "--timeframe", "5m"]
CLI_MAIN = "import sys; sys.argv[0] = 'walkforward'; from walkforward.cli import main; main()"

err = Console(stderr=True, width=170)


def progress(msg: str) -> None:
    err.print(f"[dim]{time.strftime('%H:%M:%S')} (load {os.getloadavg()[0]:.1f}) {msg}[/dim]")


def med(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "best": min(values), "runs": list(values)}


@contextmanager
def quiet() -> Iterator[None]:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        for category in (UserWarning, FutureWarning, ConvergenceWarning):
            warnings.simplefilter("ignore", category=category)
        yield


def fresh(name: str) -> Path:
    root = RUNS / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


def open_registry(root: Path) -> ModelStore:
    return ModelStore.open(f"sqlite:///{root / 'metadata.db'}", root / "models")


def prepared(store: FeatureStore, algorithm: str) -> PreparedData:
    registry = open_registry(fresh("prepare"))
    try:
        return prepare(TrainRequest(**SCALE_REQUEST, algorithm=algorithm), store=store, registry=registry)
    finally:
        registry.dispose()


def preprocessing(spec: AlgorithmSpec) -> Pipeline:
    return build_pipeline(spec.build(), linear=spec.family == "linear", p_value_threshold=0.05)


# --------------------------------------------------------------------------- part a: staged predictions


def part_staged(store: FeatureStore, quick: bool) -> list[dict[str, Any]]:
    """Max |staged - separate fit| per algorithm over every round count and fold; times of both ways."""
    rounds = QUICK_ROUNDS if quick else ROUNDS
    rows = []
    for label, name, params in STAGED:
        spec = get_algorithm(name)
        data = prepared(store, name)
        pre = preprocessing(spec)[:-1]
        folds = [prepare_fold(pre, data.X, data.y, f.train_index, f.test_index, f.number) for f in data.plan.folds]
        combos = [{**params, "n_estimators": k} for k in rounds]
        diff, step, shared_s, separate_s = 0.0, np.inf, 0.0, 0.0
        for fold in folds:
            t0 = time.perf_counter()
            staged = predict_grid(spec, combos, fold)
            shared_s += time.perf_counter() - t0
            for combo, pred in zip(combos, staged, strict=True):
                t0 = time.perf_counter()
                with threadpool_limits(limits=1, user_api="blas"):
                    alone = spec.build(combo).fit(fold.X_train, fold.y_train).predict(fold.X_test)
                separate_s += time.perf_counter() - t0
                diff = max(diff, float(np.max(np.abs(pred - alone))))
            # each count is its own model: the comparison is not between equal constants
            step = min(step, *(float(np.max(np.abs(a - b))) for a, b in zip(staged, staged[1:], strict=False)))
        rows.append(
            {
                "label": label,
                "algorithm": name,
                "params": params,
                "rounds": list(rounds),
                "folds": len(folds),
                "max_abs_diff": diff,
                "min_diff_between_counts": step,
                "shared_s": shared_s,
                "separate_s": separate_s,
                "met": diff <= GOALS["staged"],
            }
        )
        progress(f"staged {label}: max |diff| {diff:.2e}, shared {shared_s:.1f} s, separate {separate_s:.1f} s")
    return rows


# --------------------------------------------------------------------------- ours and GridSearchCV


def run_ours(store: FeatureStore, sreq: SearchRequest, keys: Sequence[str], executor: Any) -> dict[str, Any]:
    """``run_search`` in-process, fresh registry: total, prepare, search = total - prepare (wall, CPU), scores."""
    registry = open_registry(fresh("ours"))
    gc.collect()
    prepare_cpu = 0.0

    def cpu_timed(prepare: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            nonlocal prepare_cpu
            c0 = tree_cpu()
            try:
                return prepare(*a, **kw)
            finally:
                prepare_cpu += tree_cpu() - c0

        return wrapper

    try:
        with instrumented() as acc:  # its wall timer around prepare, wrapped once more for the CPU
            with mock.patch.object(search_run, "prepare", cpu_timed(search_run.prepare)):
                cpu0, t0 = tree_cpu(), time.perf_counter()
                result = run_search(sreq, store=store, registry=registry, executor=executor)
                total, cpu = time.perf_counter() - t0, tree_cpu() - cpu0
    finally:
        registry.dispose()
        executor.close()
    run = acc["search"]
    return {
        "total": total,
        "prepare": acc["prepare"],
        "search": total - acc["prepare"],
        "cpu": cpu - prepare_cpu,  # the search phase's
        "grid": run.grid,
        "grid_size": result.grid_size,
        "scores": {grid_key(run.combos[i], keys): float(v) for i, v in run.scores.items()},
        "best": {k: result.best.hyperparameters[k] for k in keys} if result.best else {},
    }


def run_gridsearch(data: PreparedData, pipe: Pipeline, grid: Mapping[str, Sequence[Any]], n_jobs: int) -> dict:
    """GridSearchCV on our folds (``cv=data.plan``), refit=False, then the best fitted on the final training rows."""
    keys = list(grid)
    gs = GridSearchCV(
        clone(pipe),
        {f"model__{k}": list(v) for k, v in grid.items()},
        cv=data.plan,
        scoring="r2",
        n_jobs=n_jobs,
        refit=False,
        error_score="raise",
    )
    rows = data.plan.final_train_index
    gc.collect()
    with threadpool_limits(limits=1, user_api="blas"):
        cpu0, t0 = tree_cpu(), time.perf_counter()
        gs.fit(data.X, data.y)
        search = time.perf_counter() - t0
        clone(pipe).set_params(**gs.best_params_).fit(data.X.iloc[rows], data.y[rows])
        total, cpu = time.perf_counter() - t0, tree_cpu() - cpu0
    res = gs.cv_results_
    scores = {
        grid_key({k.removeprefix("model__"): v for k, v in p.items()}, keys): float(s)
        for p, s in zip(res["params"], res["mean_test_score"], strict=True)
    }
    best = {k.removeprefix("model__"): v for k, v in gs.best_params_.items()}
    return {"search": search, "total": total, "cpu": cpu, "scores": scores, "best": best}


def run_cli(args: Sequence[str], store: FeatureStore, *, rounds_grid: bool = False) -> dict[str, Any]:
    """The whole command as a shell runs it, on a fresh registry: wall and CPU seconds, and its --json result."""
    root = fresh("cli")
    env = cli_env(root, store.root)
    cpu0, t0 = children_cpu(), time.perf_counter()
    run = subprocess.run(cli_argv(*args, rounds_grid=rounds_grid), env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({run.returncode}): {run.stderr[-2000:]}")
    result = json.loads(run.stdout[run.stdout.index("{") :]) if "--json" in args else {}
    return {"wall": wall, "cpu": cpu, "grid_size": result.get("grid_size"), "notes": result.get("notes")}


def compare(ours: Mapping[str, Any], sk: Mapping[str, Any]) -> dict[str, Any]:
    common = set(ours["scores"]) & set(sk["scores"])
    diff = max((abs(ours["scores"][k] - sk["scores"][k]) for k in common), default=float("nan"))
    a, b = ours["best"], sk["best"]
    same = set(a) == set(b) and all(float(a[k]) == float(b[k]) for k in b)
    return {"max_abs_score_diff": diff, "combos_compared": len(common), "same_best": same}


def summary(runs: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, Any]:
    return {f: med([r[f] for r in runs]) for f in fields}


# --------------------------------------------------------------------------- part b: 16-combination LightGBM grid


def part_lgbm16(store: FeatureStore, quick: bool, repeats: int) -> dict[str, Any]:
    allow_rounds_grid()
    grids = QUICK_LGBM16 if quick else LGBM16
    sreq = SearchRequest(
        **SCALE_REQUEST, algorithm=LGBM, search="grid", use_default_grid=False, grids=grids, explain=False
    )
    keys = sorted(sreq.grid())
    data = prepared(store, LGBM)
    pipe = preprocessing(get_algorithm(LGBM))  # the spec's defaults: n_jobs=1, one LightGBM thread per worker
    cli_args = ["search", *COMMON_ARGS, "--algorithm", LGBM, "--no-default-grid", "--n-jobs", "2", "--json"]
    for name, values in grids.items():
        cli_args += ["--grid", f"{name}={json.dumps(values)}"]
    # Untimed warm-up on a tiny grid: both ways then find the same started worker pool (joblib's reusable
    # loky executor, which ours' LocalExecutor and GridSearchCV share); the CLI runs pay their own start-up.
    tiny = SearchRequest(**{**sreq.model_dump(), "grids": QUICK_LGBM16, "search": "grid"})
    run_ours(store, tiny, keys, LocalExecutor(n_jobs=2))
    run_gridsearch(data, pipe, tiny.grid(), n_jobs=2)
    ours, sk, cli = [], [], []
    for r in range(repeats):  # interleaved, so a burst of load from other processes hits every way
        ours.append(run_ours(store, sreq, keys, LocalExecutor(n_jobs=2)))
        sk.append(run_gridsearch(data, pipe, sreq.grid(), n_jobs=2))
        cli.append(run_cli(cli_args, store, rounds_grid=True))
        progress(
            f"lgbm16 repeat {r + 1}: ours search {ours[-1]['search']:.1f} s (total {ours[-1]['total']:.1f} s), "
            f"GridSearchCV {sk[-1]['total']:.1f} s, CLI {cli[-1]['wall']:.1f} s"
        )
    o, s = summary(ours, ["total", "prepare", "search", "cpu"]), summary(sk, ["search", "total", "cpu"])
    c = summary(cli, ["wall", "cpu"])
    ratio = s["total"]["median"] / o["search"]["median"]
    return {
        "grid": sreq.grid(),
        "grid_size": ours[-1]["grid_size"],
        "cli_grid_size": cli[-1]["grid_size"],
        "ours": o,
        "gridsearchcv": s,
        "cli": c,
        "ratio_search": ratio,
        "ratio_search_cpu": s["cpu"]["median"] / o["cpu"]["median"],
        "ratio_cli": s["total"]["median"] / c["wall"]["median"],
        "best_ours": ours[-1]["best"],
        "best_gridsearchcv": sk[-1]["best"],
        **compare(ours[-1], sk[-1]),
        "met": ratio >= GOALS["lgbm16"],
    }


# --------------------------------------------------------------------------- part c: elastic net, 56 combinations


def part_enet(store: FeatureStore, quick: bool, repeats: int, cli_repeats: int, profile: bool) -> dict[str, Any]:
    sreq = SearchRequest(**SCALE_REQUEST, algorithm=ENET, search="grid", explain=False)
    keys = ["alpha", "l1_ratio"]
    data = prepared(store, ENET)
    pipe = preprocessing(get_algorithm(ENET))
    cli_args = ["search", *COMMON_ARGS, "--algorithm", ENET]
    ours: list[dict[str, Any]] = []
    sk: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    cli: list[dict[str, Any]] = []
    warm = {"alpha": [0.1], "l1_ratio": [0.5]}  # untimed: start GridSearchCV's worker pool
    run_gridsearch(data, pipe, warm, n_jobs=2)
    for r in range(max(repeats, cli_repeats)):
        if r < cli_repeats:
            cli.append(run_cli(cli_args, store))
        if r < repeats:
            ours.append(run_ours(store, sreq, keys, make_executor("local")))  # as the CLI: linear runs in-process
            for n_jobs in sk:
                sk[n_jobs].append(run_gridsearch(data, pipe, ours[-1]["grid"], n_jobs=n_jobs))
        progress(
            f"enet repeat {r + 1}: CLI {cli[-1]['wall']:.2f} s"
            + (
                f", ours search {ours[-1]['search']:.2f} s, GridSearchCV "
                + ", ".join(f"n_jobs={j} {v[-1]['total']:.1f} s" for j, v in sk.items())
                if r < repeats
                else ""
            )
        )
    o = summary(ours, ["total", "prepare", "search", "cpu"])
    c = summary(cli, ["wall", "cpu"])
    out: dict[str, Any] = {
        "grid_size": ours[-1]["grid_size"],
        "grid": ours[-1]["grid"],
        "ours": o,
        "cli": c,
        "cli_met": c["wall"]["median"] <= GOALS["enet_cli"],
        "gridsearchcv": {},
    }
    for n_jobs, runs in sk.items():
        s = summary(runs, ["search", "total", "cpu"])
        ratio = s["total"]["median"] / o["search"]["median"]
        out["gridsearchcv"][str(n_jobs)] = {
            **s,
            "ratio_search": ratio,
            "ratio_search_cpu": s["cpu"]["median"] / o["cpu"]["median"],
            "ratio_cli": s["total"]["median"] / c["wall"]["median"],
            "best": runs[-1]["best"],
            **compare(ours[-1], runs[-1]),
            "met": ratio >= GOALS["enet_search"],
        }
    out["best_ours"] = ours[-1]["best"]
    if profile or not out["cli_met"]:
        progress("enet: profiling the CLI command (-X importtime, cProfile)")
        out["profile"] = profile_cli(cli_args, store)
    return out


_IMPORT = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
#: cProfile steps of the search command: (label, file suffix, function), cumulative seconds each.
STEPS = (
    ("request parsing + checks (builds the estimator: imports scikit-learn)", "walkforward/request.py", "parse"),
    ("registry open + migrations check", "walkforward/cli/__init__.py", "_registry"),
    ("run_search", "walkforward/search/__init__.py", "run_search"),
    ("  start-up sweep (/dev/shm, orphan artifacts)", "walkforward/model_selection/cleanup.py", "sweep_leftovers"),
    ("  prepare: load (DuckDB), target, folds, hash", "walkforward/training/data.py", "prepare"),
    ("    load_dataset", "walkforward/data/loader.py", "load_dataset"),
    ("  fingerprints", "walkforward/training/data.py", "model_fingerprint"),
    ("  fold preprocessing (impute, prune, scale)", "walkforward/search/run.py", "shared"),
    ("  grid strategy (scoring + best)", "walkforward/search/strategies.py", "grid"),
    ("    best: fit + register", "walkforward/search/run.py", "save_best"),
    ("  result: cohort ranks, selection", "walkforward/search/run.py", "result"),
)


def profile_cli(args: Sequence[str], store: FeatureStore) -> dict[str, Any]:
    """Where the whole command's time goes: import seconds by library (self times), cProfile seconds by step."""
    import pstats

    env = cli_env(fresh("profile"), store.root)
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CLI_MAIN, *args], env=env, capture_output=True, text=True, check=True
    )
    by_lib: dict[str, float] = {}
    for line in run.stderr.splitlines():
        if m := _IMPORT.match(line):
            lib = m.group(4).split(".")[0]
            by_lib[lib] = by_lib.get(lib, 0.0) + int(m.group(1)) / 1e6
    top = dict(sorted(by_lib.items(), key=lambda kv: -kv[1])[:14])
    with tempfile.TemporaryDirectory() as tmp:
        prof, script = Path(tmp) / "cli.prof", Path(tmp) / "walkforward_cli.py"
        script.write_text(CLI_MAIN + "\n")
        env = cli_env(fresh("profile"), store.root)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(prof), str(script), *args],
            env=env,
            capture_output=True,
            check=True,
        )
        wall = time.perf_counter() - t0
        stats: Any = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tt, ct, callers)}
    steps = {}
    for label, suffix, func in STEPS:
        steps[label] = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(suffix) and fn == func)
    return {
        "imports_total": sum(by_lib.values()),
        "imports_by_library": top,
        "cprofile_wall": wall,
        "cprofile_steps": steps,
    }


# --------------------------------------------------------------------------- part e: start-up


def part_startup(repeats: int, rows: int = 300) -> dict[str, Any]:
    from api_seed import fill
    from bench_startup import GOALS as STARTUP_GOALS
    from bench_startup import timed

    root = fresh("startup")
    env = cli_env(root, root / "features")
    fill(f"sqlite:///{root / 'metadata.db'}", root / "models", rows)
    subprocess.run(cli_argv("models", "list"), env=env, check=True, capture_output=True)  # migrate, warm
    out = {}
    for label, argv in (("walkforward --help", ["--help"]), ("walkforward models list", ["models", "list"])):
        wall, cpu = timed(cli_argv(*argv), env, repeats)
        goal = STARTUP_GOALS[label]
        out[label] = {"wall": wall, "cpu": cpu, "goal": goal, "met": wall <= goal, "rows": rows}
        progress(f"startup {label}: {wall:.2f} s (cpu {cpu:.2f} s)")
    return out


# --------------------------------------------------------------------------- report


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _mb(d: Mapping[str, Any]) -> str:
    return f"{_s(d['median'])} ({_s(d['best'])})"


def _ok(b: bool) -> str:
    return "[green]yes[/green]" if b else "[red]no[/red]"


def _params(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def report_staged(rows: Sequence[Mapping[str, Any]], console: Console) -> None:
    t = Table(title=f"a. Shared boosters / forests = separate fits (n_estimators {rows[0]['rounds']}, all folds)")
    for c in ("model", "max |diff|", "min diff between counts", "shared s", "separate s", "ratio", "<= 1e-9"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for r in rows:
        t.add_row(
            r["label"],
            f"{r['max_abs_diff']:.1e}",
            f"{r['min_diff_between_counts']:.1e}",
            _s(r["shared_s"]),
            _s(r["separate_s"]),
            f"{r['separate_s'] / r['shared_s']:.1f}x",
            _ok(r["met"]),
        )
    console.print(t)


def report_lgbm16(d: Mapping[str, Any], repeats: int, console: Console) -> None:
    grid = " x ".join(f"{k} {v}" for k, v in d["grid"].items())
    t = Table(title=f"b. LightGBM {d['grid_size']} combinations ({grid}), 2 workers: median (best) of {repeats}")
    t.add_column("what")
    t.add_column("seconds", justify="right")
    o, s, c = d["ours"], d["gridsearchcv"], d["cli"]
    for label, v in (
        ("ours: run_search total (in-process)", o["total"]),
        ("  prepare (load, target, folds, hash)", o["prepare"]),
        ("  search = total - prepare", o["search"]),
        ("  search phase CPU, process tree", o["cpu"]),
        ("ours: whole CLI command (wall)", c["wall"]),
        ("  CPU, process tree", c["cpu"]),
        ("GridSearchCV.fit (refit=False)", s["search"]),
        ("  + best fitted on the final training rows", s["total"]),
        ("  CPU, process tree", s["cpu"]),
    ):
        t.add_row(label, _mb(v))
    t.add_row(f"GridSearchCV / ours search (goal >= {GOALS['lgbm16']:g}x)", f"{d['ratio_search']:.2f}x {_ok(d['met'])}")
    t.add_row("  same, CPU", f"{d['ratio_search_cpu']:.2f}x")
    t.add_row("GridSearchCV / ours whole CLI command", f"{d['ratio_cli']:.2f}x")
    t.add_row(f"max |score diff| ({d['combos_compared']} combinations)", f"{d['max_abs_score_diff']:.1e}")
    t.add_row("same best", f"{_ok(d['same_best'])} {_params(d['best_ours'])}")
    console.print(t)


def report_enet(d: Mapping[str, Any], repeats: int, cli_repeats: int, console: Console) -> None:
    t = Table(title=f"c. Elastic net, {d['grid_size']}-combination default grid: median (best)")
    t.add_column("what")
    t.add_column("seconds", justify="right")
    c, o = d["cli"], d["ours"]
    t.add_row(
        f"whole CLI command, median of {cli_repeats} (goal <= {GOALS['enet_cli']:g} s)",
        f"{_mb(c['wall'])} {_ok(d['cli_met'])}",
    )
    t.add_row("  CPU, process tree", _mb(c["cpu"]))
    t.add_row(f"ours in-process, {repeats} run(s): run_search total", _mb(o["total"]))
    t.add_row("  prepare", _mb(o["prepare"]))
    t.add_row("  search = total - prepare", _mb(o["search"]))
    t.add_row("  search phase CPU, process tree", _mb(o["cpu"]))
    for j, g in d["gridsearchcv"].items():
        t.add_row(f"GridSearchCV n_jobs={j} + final fit (one BLAS thread)", _mb(g["total"]))
        t.add_row("  CPU, process tree", _mb(g["cpu"]))
        t.add_row(
            f"  / ours search (goal >= {GOALS['enet_search']:g}x); CPU ratio",
            f"{g['ratio_search']:.1f}x {_ok(g['met'])}; {g['ratio_search_cpu']:.1f}x",
        )
        t.add_row("  / ours whole CLI command", f"{g['ratio_cli']:.1f}x")
        t.add_row(
            f"  max |score diff| ({g['combos_compared']}); same best",
            f"{g['max_abs_score_diff']:.1e}; {_ok(g['same_best'])}",
        )
    t.add_row("best (ours)", _params(d["best_ours"]))
    console.print(t)
    p = d.get("profile")
    if p:
        t = Table(title="c'. Where the whole command's time goes (one run each, profilers add overhead)")
        t.add_column("what")
        t.add_column("seconds", justify="right")
        t.add_row("imports, total (-X importtime, self times)", _s(p["imports_total"]))
        for lib, sec in p["imports_by_library"].items():
            t.add_row(f"  {lib}", _s(sec))
        t.add_row("whole command under cProfile (wall)", _s(p["cprofile_wall"]))
        for label, sec in p["cprofile_steps"].items():
            t.add_row(f"  {label}", _s(sec))
        console.print(t)


def _kill_rows(k: Mapping[str, Any]) -> list[str]:
    """One case's column of the kill table."""
    if "error" in k:
        return [k["error"]] + [""] * 11
    a, r, z, v = k["after_kill"], k["rerun"], k["after_rerun"], k["verdict"]
    once = k["shm_of_killed_run_once_rerun_started"]
    exist = f"{r.get('already_exist')}/{k['grid_size']} registered"
    before = f"{r.get('scored_before', 0)} in trials"
    return [
        f"{_s(k['killed_after_s'])} s, {k['killed_processes']} processes",
        f"{k['exit_status']} after {_s(k['exit_after_signal_s'])} s; {k['processes_alive_10s_later']} alive 10 s later",
        f"{a['trials']} trials, {a['models']} models",
        f"{len(k['shm_left_by_kill'])} entries",
        f"{a['files_without_row']} / {a['rows_without_file']} / {a['temporary_files']}",
        f"{exist}, {before}",
        f"{r.get('scoring', r.get('training'))} scored, {r.get('trained')} trained, {r.get('saved')} saved",
        f"{_ok(v['only_missing_trained'])} (exit {k['rerun_exit_status']}, {_s(k['rerun_s'])} s)",
        "-" if once is None else f"{len(once)} {_ok(not once)}",
        f"{len(k['shm_of_killed_run_after_rerun'])} / {len(k['shm_of_rerun_after_rerun'])}",
        f"{z['files_without_row']} / {z['rows_without_file']} / {z['temporary_files']}",
        f"{z['trials']} trials, {z['models']} models",
    ]


def report_kill(cases: Sequence[Mapping[str, Any]], console: Console) -> None:
    t = Table(
        title=f"d. Kill tests, {cases[0]['grid_size']}-combination LightGBM grid, 2 workers: SIGTERM to the CLI "
        "process, SIGKILL to its process group, once the first scores are in; then the same command again"
    )
    t.add_column("")
    for k in cases:
        t.add_column(f"{k['signal']} {k['mode']}", justify="right")
    labels = (
        "killed after",
        "exit status",
        "killed run left",
        "  in /dev/shm (its pids)",
        "  artifacts without row / rows without file / temp files",
        "rerun found",
        "rerun did",
        "  only what is missing",
        "  killed run's /dev/shm once the rerun had started",
        "after rerun: /dev/shm of killed run / of rerun",
        "  artifacts without row / rows without file / temp files",
        "  registry",
    )
    columns = [_kill_rows(k) for k in cases]
    for i, label in enumerate(labels):
        t.add_row(label, *(c[i] for c in columns))
    console.print(t)


def report_startup(d: Mapping[str, Any], repeats: int, console: Console) -> None:
    t = Table(title=f"e. Start-up, median of {repeats} (fresh processes)")
    for c in ("command", "wall s", "cpu s", "goal s", "met"):
        t.add_column(c, justify="left" if c == "command" else "right")
    for label, v in d.items():
        shown = f"{label} ({v['rows']} rows)" if "models" in label else label
        t.add_row(shown, _s(v["wall"]), _s(v["cpu"]), f"{v['goal']:g}", _ok(v["met"]))
    console.print(t)


def print_report(res: Mapping[str, Any], args: argparse.Namespace, console: Console) -> None:
    loads = ", ".join(f"{p} {a:.1f}->{b:.1f}" for p, (a, b) in res["load"].items())
    console.print(
        f"[bold]bench_ratios[/bold] {res['date']}: market seed {res['seed']} ({res['data']}), {res['cpus']} CPUs, "
        f"{'quick, ' if args.quick else ''}whole run {res['wall']:.0f} s; load average (1 min) by part: {loads}"
    )
    if "staged" in res:
        report_staged(res["staged"], console)
    if "lgbm16" in res:
        report_lgbm16(res["lgbm16"], args.repeats, console)
    if "enet" in res:
        report_enet(res["enet"], args.repeats, args.cli_repeats, console)
    if "kill" in res:
        report_kill(res["kill"], console)
    if "startup" in res:
        report_startup(res["startup"], args.startup_repeats, console)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="staged,lgbm16,enet,kill,startup", help="comma-separated subset")
    ap.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    ap.add_argument("--quick", action="store_true", help="a small smoke run: tiny grids, fewer repeats")
    ap.add_argument("--repeats", type=int, help="in-process runs of each way, interleaved (default 3; quick 1)")
    ap.add_argument("--cli-repeats", type=int, help="whole elastic-net CLI runs (default 5; quick 2)")
    ap.add_argument("--startup-repeats", type=int, help="runs per start-up figure (default 5; quick 2)")
    ap.add_argument("--profile", action="store_true", help="profile the elastic-net CLI command even if on goal")
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout (tables on stderr)")
    args = ap.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.cli_repeats = args.cli_repeats or (2 if args.quick else 5)
    args.startup_repeats = args.startup_repeats or (2 if args.quick else 5)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - {"staged", "lgbm16", "enet", "kill", "startup"}
    if unknown:
        ap.error(f"unknown part(s) {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    store = ensure_market(args.seed)
    data = prepared(store, ENET)
    res: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "seed": args.seed,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "data": f"{len(data.y)} rows x {len(data.features)} features, folds "
        + ", ".join(f"{len(f.train_index)}/{len(f.test_index)}" for f in data.plan.folds),
        "load": {},
    }
    steps: dict[str, Callable[[], Any]] = {
        "staged": lambda: part_staged(store, args.quick),
        "lgbm16": lambda: part_lgbm16(store, args.quick, args.repeats),
        "enet": lambda: part_enet(store, args.quick, args.repeats, args.cli_repeats, args.profile),
        "kill": lambda: kill_part(store, args.quick),
        "startup": lambda: part_startup(args.startup_repeats),
    }
    with quiet():
        for part in parts:
            before = os.getloadavg()[0]
            progress(f"part {part}")
            res[part] = steps[part]()
            res["load"][part] = (before, os.getloadavg()[0])
    res["wall"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(res, indent=1, default=str))
    print_report(res, args, err if args.json else Console(width=170))
    return 0


def kill_part(store: FeatureStore, quick: bool) -> list[dict[str, Any]]:
    from ratios_kill import kill_tests

    return kill_tests(RUNS / "kill", store.root, quick, progress)


if __name__ == "__main__":
    sys.exit(main())
