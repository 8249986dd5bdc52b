"""A real ``walkforward ingest`` process killed with SIGKILL mid-write: nothing half-visible, the next ingest sweeps."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from walkforward import queries
from walkforward.data import LoadRequest, load_dataset
from walkforward.features.pipeline import ingest_paths
from walkforward.features.store import META_FILE, FeatureStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAYS = 200  # of 1-minute bars in the killed ingests: writing them takes long enough to be caught midway
SMALL = 15  # days of the ingests run to completion in the test process
CAUGHT_AFTER = 3  # new day files on disk before the kill


def _bars(path: Path, *, scale: float, seed: int, days: int = DAYS) -> Path:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2023-01-02", periods=days)
    ts = (days.values[:, None] + np.timedelta64(570, "m") + np.arange(390) * np.timedelta64(1, "m")).ravel()
    close = scale * 50 * np.exp(np.cumsum(rng.normal(0, 5e-4, ts.size)))
    open_ = np.r_[close[0], close[:-1]]
    pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.0002,
            "low": np.minimum(open_, close) * 0.9998,
            "close": close,
            "volume": rng.integers(100, 1000, ts.size).astype(float),
        }
    ).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bars(tmp_path_factory.mktemp("bars") / "big.parquet", scale=2.0, seed=3)


def _unlisted(store: FeatureStore, symbol: str) -> list[Path]:
    """Day files of ``symbol`` that its manifest does not list (a running or killed ingest's)."""
    folder = store.symbol_dir(symbol)
    man = store.manifest(symbol)
    listed = man.listed() if man else set()
    return [p for p in folder.glob("dt=*/*.parquet") if p.relative_to(folder).as_posix() not in listed]


def _ingest_killed_midway(store: FeatureStore, tmp: Path, path: Path, symbol: str) -> None:
    """Start ``walkforward ingest path`` and SIGKILL it once it has written a few day files, not before."""
    env = {**os.environ, "FEATURES_PARQUET_DIR": str(store.root), "METADATA_DB_PATH": str(tmp / "meta.db")}
    env.pop("METADATA_DB_URL", None)
    cmd = [sys.executable, "-m", "walkforward", "ingest", str(path), "--symbol", symbol, "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hung process, not a timing assertion
        while not (store.symbol_dir(symbol).is_dir() and len(_unlisted(store, symbol)) >= CAUGHT_AFTER):
            if proc.poll() is not None:
                pytest.fail(f"the ingest ended (rc {proc.returncode}) before it could be killed: {proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("no day file appeared")
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait()  # reaped: its pid is dead, as after any SIGKILL
    assert proc.returncode == -9


def _load(store: FeatureStore, symbol: str) -> pd.DataFrame:
    return load_dataset(store, LoadRequest.build(symbol), drop_unlabelled=False).frame


def _only_committed(store: FeatureStore, symbol: str) -> bool:
    folder = store.symbol_dir(symbol)
    man = store.manifest(symbol)
    assert man is not None
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    return files == man.listed() | {META_FILE, ".lock"}


def test_a_killed_first_ingest_leaves_no_symbol_and_the_next_one_sweeps(tmp_path: Path, big: Path) -> None:
    store = FeatureStore(tmp_path / "store")
    _ingest_killed_midway(store, tmp_path, big, "NEW")
    assert _unlisted(store, "NEW") and not (store.symbol_dir("NEW") / META_FILE).exists()
    assert store.symbols() == [] and queries.symbols(store) == []
    env = {**os.environ, "FEATURES_PARQUET_DIR": str(store.root), "METADATA_DB_PATH": str(tmp_path / "meta.db")}
    shown = subprocess.run(
        [sys.executable, "-m", "walkforward", "dataset", "NEW", "--embargo", "5"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 2, shown.stdout
    assert "NEW: an ingest did not finish; rerun `walkforward ingest`" in " ".join(shown.stderr.split())

    small = _bars(tmp_path / "small.parquet", scale=1.0, seed=1, days=SMALL)
    (summary,) = ingest_paths(store, [small], symbol="NEW")
    assert summary.days == SMALL and store.symbols() == ["NEW"]
    assert _only_committed(store, "NEW")  # the killed process's files are gone, on every day it reached
    assert len(_load(store, "NEW")) == SMALL * 390


def test_a_killed_reingest_leaves_the_previous_state_exactly(tmp_path: Path, big: Path) -> None:
    store = FeatureStore(tmp_path / "store")
    old = _bars(tmp_path / "old.parquet", scale=1.0, seed=2, days=SMALL)
    ingest_paths(store, [old], symbol="ABC")
    before = _load(store, "ABC")
    meta = (store.symbol_dir("ABC") / META_FILE).read_bytes()

    _ingest_killed_midway(store, tmp_path, big, "ABC")  # the new bars replace the old days first
    assert _unlisted(store, "ABC"), "the kill came after the new files were written"
    assert (store.symbol_dir("ABC") / META_FILE).read_bytes() == meta
    pd.testing.assert_frame_equal(_load(store, "ABC"), before)
    assert store.symbols() == ["ABC"] and store.describe("ABC").days == SMALL

    head = tmp_path / "head.parquet"  # the same new bars, their first days only
    pd.read_parquet(big).iloc[: SMALL * 390].to_parquet(head)
    ingest_paths(store, [head], symbol="ABC")
    assert _only_committed(store, "ABC")
    np.testing.assert_allclose(_load(store, "ABC")["close"].to_numpy(), pd.read_parquet(head)["close"].to_numpy())
