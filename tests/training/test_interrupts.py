"""Interrupted searches as real processes: a clean stop on SIGTERM/SIGINT, a sweep after SIGKILL, progress lines."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from planted_cli import planted

from walkforward.config import Settings
from walkforward.features.store import FeatureStore
from walkforward.model_selection.cleanup import SHM, owner_pid, temp_root
from walkforward.service import Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 8
ARGS = planted(
    "search",
    "lightgbm_regressor",
    "--no-default-grid",
    "--grid",
    "num_leaves_grid=[7, 15, 31, 63]",
    "--grid",
    "min_data_in_leaf_grid=[20, 80]",
    "--param",
    "n_estimators=60",
    "--n-jobs",
    "2",  # worker processes: the loky pool is what leaves files in /dev/shm
    "--no-explain",
)
MESSAGE = "models saved; rerun the same command to train only what is missing"


def _env(store: FeatureStore, tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(store.root),
        "MODELS_DIR": str(tmp / "models"),
        "METADATA_DB_PATH": str(tmp / "meta.db"),
        "COLUMNS": "200",
        "WALKFORWARD_PROGRESS_INTERVAL": "0.5",
    }
    env.pop("METADATA_DB_URL", None)
    return env


class Search:
    """A search process whose stderr lines are collected as they come."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "walkforward", *ARGS, *extra],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line.rstrip("\n"))

    def tree(self) -> set[int]:
        """The pids of this process and its descendants (the loky workers, resource trackers)."""
        pids, todo = set(), [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.add(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        return pids

    def wait(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code


def _saved(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM models").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _wait_until(search: Search, ready: Callable[[], bool], what: str) -> None:
    deadline = time.time() + 300
    while time.time() < deadline and search.proc.poll() is None and not ready():
        time.sleep(0.1)
    assert search.proc.poll() is None, f"the search ended before {what}: {search.lines[-5:]}"
    assert ready(), f"timed out waiting for {what}"


def _left_by(pids: set[int]) -> list[str]:
    names = {p.name for root in {SHM, temp_root()} if root.is_dir() for p in root.iterdir()}
    return sorted(n for n in names if owner_pid(n) in pids)


def _done_progress(lines: list[str]) -> bool:
    return any(re.match(r"grid [1-9]\d*/\d+ ", line) for line in lines)


def _rerun(env: dict[str, str], before: int) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "walkforward", *ARGS], env=env, text=True, capture_output=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert f"{before}/{N} already exist, training {N - before}" in res.stdout


@pytest.mark.parametrize(
    ("sig", "group", "save_all"),
    [
        (signal.SIGTERM, False, True),  # `kill PID`, docker stop
        (signal.SIGTERM, False, False),  # best-only: nothing is saved before the end
        (signal.SIGINT, True, True),  # Ctrl-C reaches the whole foreground group, workers too
    ],
)
def test_a_signal_stops_the_search_and_leaves_shared_memory_clean(
    planted_store: FeatureStore, tmp_path: Path, sig: signal.Signals, group: bool, save_all: bool
) -> None:
    env = _env(planted_store, tmp_path)
    db = tmp_path / "meta.db"
    search = Search(env, *(["--save-all-grid-models"] if save_all else []))
    if save_all:
        _wait_until(search, lambda: _saved(db) >= 1, "a model was registered")
    else:
        _wait_until(search, lambda: _done_progress(search.lines), "a progress line with finished work")
    pids = search.tree()
    assert len(pids) > 2 and _left_by(pids), "the worker pool is not running: nothing to clean up"
    if group:
        os.killpg(search.proc.pid, sig)
    else:
        os.kill(search.proc.pid, sig)
    code = search.wait(timeout=120)
    assert code == 128 + sig, search.lines[-10:]
    saved = _saved(db)
    assert search.lines[-1] == f"interrupted: {saved} {MESSAGE}"
    assert "Traceback" not in "\n".join(search.lines)
    deadline = time.time() + 20  # loky's resource tracker exits once the last pipe to it closes
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    assert _left_by(pids) == []
    assert saved < N
    _rerun(env, saved)


def test_after_a_sigkill_the_next_search_sweeps_what_the_killed_one_left(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    env = _env(planted_store, tmp_path)
    db = tmp_path / "meta.db"
    search = Search(env, "--save-all-grid-models")
    # the pool must still be up when the kill lands: on a busy machine the workers can finish every
    # task and release their semaphores while the parent is still registering models
    seen: list[set[int]] = []  # the process tree at the moment its pool's files were seen

    def pool_up() -> bool:
        tree = search.tree()
        if _saved(db) >= 1 and _left_by(tree):
            seen.append(tree)
        return bool(seen)

    _wait_until(search, pool_up, "a model saved while the pool runs")
    pids = seen[0] | search.tree()
    os.killpg(search.proc.pid, signal.SIGKILL)  # nothing of the tree can clean up after this
    search.wait(timeout=60)
    # Not asserted that the files outlive the kill: under `pytest -n 2` a server start or a run in the
    # other worker may sweep them first, as it should (they belong to dead processes).
    saved = _saved(db)
    assert 1 <= saved < N
    _rerun(env, saved)
    assert _left_by(pids) == []


def test_after_sigkills_the_next_server_start_leaves_only_registered_artifacts(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    env = _env(planted_store, tmp_path)
    db, models = tmp_path / "meta.db", tmp_path / "models"
    search = Search(env, "--save-all-grid-models")
    _wait_until(search, lambda: _saved(db) >= 1, "a model was registered")
    os.killpg(search.proc.pid, signal.SIGKILL)
    search.wait(timeout=60)
    # What a kill leaves when it lands between an artifact's rename and its row's commit, and in the
    # middle of a write (named after the killed writer): planted, so the test does not race the kill.
    shutil.copy(next(models.glob("*.joblib")), models / f"{uuid.uuid4().hex}.joblib")
    (models / f".tmp-{search.proc.pid}~{socket.gethostname()}~{uuid.uuid4().hex}-k1.part").write_bytes(b"half")
    then = time.time() - 7200  # an hour later
    for path in models.iterdir():
        os.utime(path, (then, then))
    assert len(list(models.iterdir())) >= _saved(db) + 2
    settings = Settings(features_parquet_dir=planted_store.root, models_dir=models, metadata_db_path=db)
    svc = Services.open(settings, run_jobs=False)  # what `walkforward serve` does first
    try:
        ids = [r.id for r in svc.registry.list(limit=100)[0]]
    finally:
        svc.close()
    rows = {name for i in ids for name in (f"{i}.joblib", f"{i}.predictions.parquet")}  # a model's two files
    assert len(ids) == _saved(db) and {p.name for p in models.iterdir() if p.is_file()} == rows


def test_a_search_off_a_terminal_prints_progress_lines(planted_store: FeatureStore, tmp_path: Path) -> None:
    search = Search(_env(planted_store, tmp_path), "--save-all-grid-models", "--json")
    assert search.wait() == 0, search.lines[-10:]
    lines = [line for line in search.lines if line.startswith(("grid ", "grid search:"))]
    assert lines and lines[0].startswith("grid search: preparing data and folds, elapsed ")
    done = r"grid [1-9]/8 \(\d+\.\d%\), best so far -?[\d.e-]+, elapsed \d+(s|m\d\ds), ETA \d+(s|m\d\ds)"
    assert any(re.fullmatch(done, line) for line in lines), lines
