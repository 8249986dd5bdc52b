"""Kill tests with real processes (issue 9, part d of ``bench_ratios.py``).

For each of SIGTERM and SIGKILL, best-only and save-all: a LightGBM grid search runs as a CLI process
on a fresh registry; once its first task's scores are in the trials table it is killed, and the same
command is run again. Recorded:

- the signal's target: SIGTERM goes to the CLI process only (``kill PID``: its handler stops the
  workers); SIGKILL goes to the whole process group (``kill -9 -PGID``, the OOM killer's worst case:
  nothing of the run can clean up);
- the killed run: exit status, seconds from the signal to its exit, its processes still alive 10 s
  later, the trials and models it left, what it left in /dev/shm (names carry their owner's pid);
- the rerun: its notes ("N/M already exist, training T", "a/b scored before (trials), scoring c"),
  what it trained against the grid size and against what the killed run left, whether the killed
  run's /dev/shm entries were still there once the rerun had started (its first new trial written),
  and after the rerun: /dev/shm, orphan artifacts (files without a row, rows without a file, stray
  temporary files), models and trials.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
from cli_runs import cli_argv, cli_env, orphans, registry_counts, shm_entries

#: 32 combinations x 2 folds x 200 rounds: ~25-50 s with 2 workers here (4 tasks of 8 combinations).
KILL_GRID: dict[str, list[Any]] = {
    "num_leaves_grid": [15, 31, 63, 127],
    "min_data_in_leaf_grid": [10, 20, 40, 80],
    "lgbm_learning_rate_grid": [0.03, 0.1],
}
QUICK_KILL_GRID: dict[str, list[Any]] = {
    "num_leaves_grid": [7, 15],
    "min_data_in_leaf_grid": [20, 40],
    "lgbm_learning_rate_grid": [0.1],
}
_EXIST = re.compile(r"(\d+)/(\d+) already exist, training (\d+)")
_BEFORE = re.compile(r"(\d+)/(\d+) scored before \(trials\), scoring (\d+)")


def search_args(grid: Mapping[str, list[Any]], *, save_all: bool, quick: bool) -> list[str]:
    args = [
        "search", "AAPL,QQQ,VIX", "--algorithm", "lightgbm_regressor", "--search", "grid", "--no-default-grid",
        "--no-explain", "--embargo", "12", "--timeframe", "5m", "--n-jobs", "2", "--json",
    ]  # fmt: skip
    if quick:
        args += ["--param", "n_estimators=40"]
    for name, values in grid.items():
        args += ["--grid", f"{name}={json.dumps(values)}"]
    return args + (["--save-all-grid-models"] if save_all else [])


def _wait_until(pred: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return pred()


def _notes(stdout: str) -> dict[str, Any]:
    """The rerun's --json result: counts and the two resume notes, parsed."""
    try:
        result = json.loads(stdout[stdout.index("{") :])
    except ValueError:
        return {"error": stdout[-500:]}
    out: dict[str, Any] = {k: result.get(k) for k in ("grid_size", "tried", "existing", "trained")}
    out["saved"] = len(result.get("saved") or [])
    out["notes"] = result.get("notes", [])
    for note in out["notes"]:
        if m := _EXIST.search(note):
            out["already_exist"], out["training"] = int(m.group(1)), int(m.group(3))
        if m := _BEFORE.search(note):
            out["scored_before"], out["scoring"] = int(m.group(1)), int(m.group(3))
    return out


def one_case(
    sig: signal.Signals, save_all: bool, root: Path, store: Path, grid: Mapping[str, list[Any]], quick: bool
) -> dict[str, Any]:
    """Kill one search mid-way with ``sig``, rerun it, and report what both left and what the rerun trained."""
    shutil.rmtree(root, ignore_errors=True)
    env = cli_env(root, store)
    argv = cli_argv(*search_args(grid, save_all=save_all, quick=quick))
    size = 1
    for values in grid.values():
        size *= len(values)
    case: dict[str, Any] = {"signal": sig.name, "mode": "save-all" if save_all else "best-only", "grid_size": size}
    log = root / "killed.stderr"
    started = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=fh, text=True, start_new_session=True)
        first = _wait_until(lambda: registry_counts(root)["trials"] > 0 or proc.poll() is not None, 600)
        case["killed_after_s"] = time.monotonic() - started
        if proc.poll() is not None or not first:
            proc.kill()
            proc.communicate()
            case["error"] = f"the search ended before it could be killed (exit {proc.returncode}); see {log}"
            return case
        pids = {proc.pid} | {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        case["killed_processes"] = len(pids)
        t_sig = time.monotonic()
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(sig)
        proc.communicate(timeout=120)
        case["exit_status"] = proc.returncode
        case["exit_after_signal_s"] = time.monotonic() - t_sig
    _wait_until(lambda: not any(psutil.pid_exists(p) for p in pids), 10)
    case["processes_alive_10s_later"] = sum(
        1 for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    )
    case["after_kill"] = {**registry_counts(root), **{k: len(v) for k, v in orphans(root).items()}}
    left = {n for n, pid in shm_entries().items() if pid in pids}
    case["shm_left_by_kill"] = sorted(left)

    # The rerun: the same command. "Started" = its first new trial is written (it is past its start-up sweep).
    before = registry_counts(root)["trials"]
    seen_at_start: set[str] | None = None
    t0 = time.monotonic()
    with open(root / "rerun.stderr", "w") as fh:
        rerun = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=fh, text=True)
        while rerun.poll() is None:
            if seen_at_start is None and registry_counts(root)["trials"] > before:
                seen_at_start = left & set(shm_entries())
            time.sleep(0.1)
        stdout, _ = rerun.communicate()
    case["rerun_s"] = time.monotonic() - t0
    case["rerun_exit_status"] = rerun.returncode
    case["rerun"] = _notes(stdout)
    case["shm_of_killed_run_once_rerun_started"] = sorted(seen_at_start) if seen_at_start is not None else None
    case["shm_of_killed_run_after_rerun"] = sorted(left & set(shm_entries()))
    case["shm_of_rerun_after_rerun"] = sorted(n for n, pid in shm_entries().items() if pid == rerun.pid)
    case["after_rerun"] = {**registry_counts(root), **{k: len(v) for k, v in orphans(root).items()}}
    case["verdict"] = verdict(case)
    return case


def verdict(case: Mapping[str, Any]) -> dict[str, bool]:
    """What must hold: the rerun trains only what is missing, and nothing of the killed run stays behind."""
    rerun, killed, size = case["rerun"], case["after_kill"], case["grid_size"]
    # Every registered model has its trial (scores are recorded before a model is saved): the rerun skips
    # the registered ones, takes the other trials' scores, and scores the rest; save-all also fits and
    # saves every combination not registered.
    scoring = rerun.get("scoring", rerun.get("training"))
    only_missing = (
        rerun.get("already_exist") == killed["models"]
        and rerun.get("scored_before", 0) == killed["trials"] - killed["models"]
        and scoring == size - killed["trials"]
    )
    if case["mode"] == "save-all":
        only_missing = only_missing and rerun.get("training") == size - killed["models"]
    after = case["after_rerun"]
    return {
        "rerun_ok": case["rerun_exit_status"] == 0,
        "only_missing_trained": bool(only_missing),
        "all_scored": after["trials"] >= size,
        "shm_clean_once_started": not case["shm_of_killed_run_once_rerun_started"],
        "shm_clean_after": not case["shm_of_killed_run_after_rerun"] and not case["shm_of_rerun_after_rerun"],
        "no_orphans_after": not (after["files_without_row"] or after["rows_without_file"] or after["temporary_files"]),
    }


def kill_tests(out_root: Path, store: Path, quick: bool, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    grid = QUICK_KILL_GRID if quick else KILL_GRID
    cases = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for save_all in (False, True):
            name = f"{sig.name.lower()}-{'all' if save_all else 'best'}"
            case = one_case(sig, save_all, out_root / name, store, grid, quick)
            progress(
                f"kill {name}: killed after {case.get('killed_after_s', 0):.1f} s, "
                f"rerun {case.get('rerun', {}).get('notes', case.get('error'))}"
            )
            cases.append(case)
    return cases
