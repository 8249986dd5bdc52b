"""Running the ``walkforward`` CLI from a bench as a user's shell would, and looking at what it left.

- :func:`cli_argv` / :func:`cli_env`: the console script (or, with ``rounds_grid``, the same CLI with
  booster specs that accept ``n_estimators_grid``: see :mod:`rounds_grid`) on a fresh registry and
  models dir, reading the bench market's store;
- :func:`children_cpu` / :func:`tree_cpu`: CPU seconds (user + sys) of finished subprocesses, and of
  this process with every descendant, live or reaped (loky workers outlive a search);
- :func:`shm_entries`, :func:`registry_counts`, :func:`orphans`: /dev/shm names of worker pools (with
  their owner pid), the registry's rows, and artifacts without a row or rows without an artifact.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
SHM = Path("/dev/shm")
SHM_PREFIXES = ("joblib_memmapping_folder_", "sem.loky-", "walkforward-")


def cli_argv(*args: str, rounds_grid: bool = False) -> list[str]:
    """The command line of ``walkforward ARGS`` (the venv's console script when it exists)."""
    if rounds_grid:
        from rounds_grid import CLI_PRELUDE

        return [sys.executable, "-c", CLI_PRELUDE, *args]
    script = Path(sys.executable).with_name("walkforward")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "walkforward", *args]


def cli_env(root: Path, store: Path) -> dict[str, str]:
    """The environment of a CLI run on the store ``store`` with its registry and models under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(BENCH), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "FEATURES_PARQUET_DIR": str(store),
        "METADATA_DB_PATH": str(root / "metadata.db"),
        "MODELS_DIR": str(root / "models"),
        "COLUMNS": "200",
    }


def children_cpu() -> float:
    """User + sys seconds of this process's finished (waited-for) children and their own descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu() -> float:
    """User + sys seconds of this process, its finished children, and every live descendant so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    total = me.ru_utime + me.ru_stime + children_cpu()
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.Error:  # it ended in between: its time moves to RUSAGE_CHILDREN once reaped
            continue
        total += t.user + t.system
    return total


def shm_entries() -> dict[str, int]:
    """Worker-pool names in /dev/shm (joblib memmap folders, loky semaphores, walkforward run folders) -> owner pid."""
    from walkforward.model_selection.cleanup import owner_pid

    out: dict[str, int] = {}
    try:
        names = [p.name for p in SHM.iterdir()]
    except OSError:
        return out
    for name in names:
        pid = owner_pid(name) if name.startswith(SHM_PREFIXES) else None
        if pid is not None:
            out[name] = pid
    return out


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """A read-only query that waits out a writer's lock (the search writes while a bench polls)."""
    if not db.exists():
        return []
    for attempt in range(50):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            if attempt == 49:
                raise
            time.sleep(0.05)
    return []


def registry_counts(root: Path) -> dict[str, int]:
    """Rows of the registry under ``root``: models and (full-fidelity or not) trials."""
    db = root / "metadata.db"
    models = _query(db, "SELECT count(*) FROM models")
    trials = _query(db, "SELECT count(*) FROM trials")
    return {"models": int(models[0][0]) if models else 0, "trials": int(trials[0][0]) if trials else 0}


def orphans(root: Path) -> dict[str, list[str]]:
    """Artifact files without a row, rows without their file, and stray temporary files (``.tmp-*``)."""
    from walkforward.registry.artifacts import ARTIFACT_SUFFIX, TEMP_PREFIX

    models_dir = root / "models"
    files = {p.name for p in models_dir.iterdir()} if models_dir.is_dir() else set()
    referenced = {Path(str(r[0])).name for r in _query(root / "metadata.db", "SELECT artifact_path FROM models")}
    return {
        "files_without_row": sorted(f for f in files if f.endswith(ARTIFACT_SUFFIX) and f not in referenced),
        "rows_without_file": sorted(referenced - files),
        "temporary_files": sorted(f for f in files if f.startswith(TEMP_PREFIX)),
    }
