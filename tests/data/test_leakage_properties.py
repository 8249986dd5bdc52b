"""Property-based leakage checks through real Parquet files, DuckDB resampling and the splitters."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from walkforward.data import LoadRequest, load_dataset
from walkforward.domain import Timeframe
from walkforward.features.store import FeatureStore
from walkforward.model_selection import FoldPlan, plan_folds


@st.composite
def markets(draw: st.DrawFn) -> dict:
    days = draw(st.integers(2, 5))
    bars = draw(st.integers(20, 80))
    n = days * bars
    # split labels in random runs of minutes (harsher than whole days: buckets straddle boundaries)
    runs = draw(st.lists(st.tuples(st.booleans(), st.integers(5, 120)), min_size=2, max_size=10))
    labels = np.concatenate([np.full(k, "test" if t else "train", dtype=object) for t, k in runs])
    labels = np.resize(labels, n)
    return {
        "days": days,
        "bars": bars,
        "labels": labels,
        "timeframe": draw(st.sampled_from(["1m", "5m", "15m", "1h"])),
        "lookforward": draw(st.integers(1, 5)),
        "scheme": draw(st.sampled_from(["walk_forward", "expanding"])),
        "seed": draw(st.integers(0, 2**16)),
        "context": draw(st.booleans()),
    }


def _write(store: FeatureStore, sym: str, ts: pd.DatetimeIndex, labels: np.ndarray, rng) -> None:
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, ts.size)))
    frame = pd.DataFrame(
        {
            "ts": ts,
            "close": close,
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "f": rng.normal(size=ts.size),
            "options": "v1",
            "data_split": labels,
        }
    )
    store.write_days(
        sym,
        frame,
        options="v1",
        bar_seconds=60,
        bars_per_day=int(ts.size),
        features={"f": {"lookback": 4, "group": "standard"}},
        split_scheme=None,
        timezone="America/New_York",
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=markets())
def test_no_training_row_sees_a_test_bar_after_resampling(m: dict) -> None:
    rng = np.random.default_rng(m["seed"])
    days = pd.bdate_range("2024-01-02", periods=m["days"])
    ts = pd.DatetimeIndex(
        np.concatenate(
            [
                (d + pd.Timedelta(hours=9, minutes=30) + pd.to_timedelta(np.arange(m["bars"]), "min")).to_numpy()
                for d in days
            ]
        )
    ).tz_localize("America/New_York")
    labels = m["labels"]
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(Path(tmp))
        _write(store, "PRIM", ts, labels, rng)
        symbols = "PRIM"
        if m["context"]:  # context labels all train: the primary's test bars alone must make buckets test
            _write(store, "CTX", ts, np.full(ts.size, "train", dtype=object), rng)
            symbols = "PRIM,CTX"
        req = LoadRequest.build(
            symbols, timeframe=m["timeframe"], lookforward=m["lookforward"], target_transform="log_return"
        )
        assume(len(ts) // max(1, Timeframe(m["timeframe"]).seconds // 60) > m["lookforward"] + 2)
        ds = load_dataset(store, req)
        if not (ds.frame["data_split"] == "test").any():
            return
        try:
            plan = plan_folds(ds, scheme=m["scheme"])
        except Exception as exc:  # too little data for any fold is a refusal, not a leak
            assert "no walk-forward fold" in str(exc)
            return
        try:
            strict: FoldPlan | None = plan_folds(ds, scheme=m["scheme"], strict_embargo=True)
        except Exception as exc:  # the strict embargo can leave no fold where the default keeps some
            assert "no walk-forward fold" in str(exc)
            strict = None
    assert all(not c.startswith(("close", "open", "high", "low")) for c in ds.feature_columns)
    # raw 1m bars -> resampled row number
    seconds = Timeframe(m["timeframe"]).seconds
    bucket = ts.tz_convert("UTC").tz_localize(None).floor(f"{seconds}s")  # the loader's ts: naive UTC
    row_of_bucket = {t: i for i, t in enumerate(ds.ts)}
    raw_test_rows = {
        row_of_bucket[b] for b, lab in zip(bucket, labels, strict=True) if lab == "test" and b in row_of_bucket
    }
    L = m["lookforward"]
    n = len(ds.frame)
    lookback = ds.max_lookback() or 0
    assert lookback >= 4 if seconds == 60 else lookback >= 1
    # the default (no embargo in these schemes): per fold, no training row's target window holds a raw
    # test bar, and no training row's feature window reaches into the fold's own test rows
    assert plan.embargo == 0 and plan.notes and plan.notes[0].startswith("no embargo")
    for f in plan.folds:
        assert f.train_index.max() < f.test_index.min()
        scored = set(f.test_index.tolist())
        for i in f.train_index.tolist():
            window = set(range(i, min(i + L, n + L) + 1))
            assert not window & raw_test_rows, f"train row {i} sees a test bar within lookforward {L}"
            assert not set(range(max(0, i - lookback), i + 1)) & scored, f"train row {i} looks into its fold"
    # strict: as before 2026-11-28, no training row at all (folds or final) sees any test bar either way
    if strict is None:
        return
    assert strict.embargo == lookback
    train_rows = set(strict.final_train_index.tolist())
    for f in strict.folds:
        train_rows |= set(f.train_index.tolist())
        assert f.train_index.max() < f.test_index.min()
    for i in train_rows:
        window = set(range(i, min(i + L, n + L) + 1))
        assert not window & raw_test_rows, f"train row {i} sees a test bar within lookforward {L}"
        assert not set(range(max(0, i - strict.embargo), i)) & raw_test_rows
