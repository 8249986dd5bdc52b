"""Trading days follow each exchange's calendar, and a store written before zones were recorded is migrated.

A session of Sydney (09:30-16:00 AEDT = 22:30-05:00 UTC) crosses UTC midnight: cut on UTC dates it
would fall into two partitions, two split blocks and two daily bars.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from walkforward.data import LoadRequest, load_dataset
from walkforward.domain import SplitScheme
from walkforward.errors import StoreFormatError
from walkforward.features.demo import generate_market
from walkforward.features.migrate import migrate_store
from walkforward.features.pipeline import build_feature_frame, ingest_frames
from walkforward.features.store import FeatureStore

NY = "America/New_York"
SYDNEY = "Australia/Sydney"


def test_a_session_across_utc_midnight_is_one_day_one_split_block_and_one_daily_bar(tmp_path: Path) -> None:
    frames = generate_market(days=4, symbols=("SYD",), seed=3, timezone=SYDNEY)
    bars = frames["SYD"]
    local_day = bars["ts"].dt.tz_convert(SYDNEY).dt.date
    assert bars["ts"].dt.date.nunique() == 5  # the UTC dates: every session straddles two
    store = FeatureStore(tmp_path / "store")
    (summary,) = ingest_frames(store, frames, scheme=SplitScheme(2, 2), timezone=SYDNEY)
    assert summary.days == 4 and (summary.train_days, summary.test_days) == (2, 2)
    expected_days = sorted({d.isoformat() for d in local_day})
    assert sorted(p.name[3:] for p in store.symbol_dir("SYD").glob("dt=*")) == expected_days
    daily = load_dataset(store, LoadRequest.build("SYD", timeframe="1d"), drop_unlabelled=False)
    assert [t.date().isoformat() for t in daily.local_ts] == expected_days
    assert (daily.local_ts.dt.hour == 0).all()  # each bucket starts at local midnight
    np.testing.assert_allclose(daily.frame["volume"], bars.groupby(local_day)["volume"].sum().to_numpy())
    np.testing.assert_allclose(daily.frame["close"], bars.groupby(local_day)["close"].last().to_numpy())
    assert list(daily.frame["data_split"]) == ["train", "train", "test", "test"]
    minutes = load_dataset(store, LoadRequest.build("SYD", timeframe="1m"), drop_unlabelled=False)
    assert minutes.local_ts.dt.strftime("%H:%M").iloc[0] == "09:30"
    assert (minutes.frame.groupby(minutes.local_ts.dt.date)["data_split"].nunique() == 1).all()


def _write_legacy(root: Path, frames: dict[str, pd.DataFrame], scheme: SplitScheme) -> None:
    """What the store looked like before zones: naive New York times, dt= their date, no zone in meta."""
    for sym, bars in frames.items():
        frame, feats, bar_seconds, bars_per_day = build_feature_frame(bars, options="v1", scheme=scheme, timezone=NY)
        frame["ts"] = frame["ts"].dt.tz_convert(NY).dt.tz_localize(None)
        base = root / sym
        for day, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m-%d")):
            (base / f"dt={day}").mkdir(parents=True)
            table = pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
            pq.write_table(table, base / f"dt={day}" / "v1.parquet", compression="zstd")
        meta = {"symbol": sym, "bar_seconds": bar_seconds, "bars_per_day": bars_per_day}
        meta["options"] = {"v1": {"features": feats, "split_scheme": str(scheme)}}
        (base / "_meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_legacy_store_is_refused_until_migrated_then_loads_as_instants(tmp_path: Path) -> None:
    frames = generate_market(days=5, symbols=("AAPL", "VIX"), seed=5, start=pd.Timestamp("2024-03-06").date())
    legacy = FeatureStore(tmp_path / "legacy")
    _write_legacy(legacy.root, frames, SplitScheme(3, 2))
    assert pq.read_schema(next(legacy.root.glob("AAPL/dt=*/v1.parquet"))).field("ts").type == pa.timestamp("ns")
    req = LoadRequest.build("AAPL,VIX", timeframe="5m")
    with pytest.raises(
        StoreFormatError, match=r"AAPL: stored before time zones .* run .walkforward store migrate --timezone ZONE"
    ):
        load_dataset(legacy, req)
    with pytest.raises(StoreFormatError, match="run `walkforward store migrate --timezone ZONE` first"):
        ingest_frames(legacy, {"AAPL": frames["AAPL"]}, timezone=NY)
    assert legacy.describe("AAPL").timezone is None

    results = migrate_store(legacy, NY)
    assert [(r.symbol, r.status, r.files, r.timezone) for r in results] == [
        ("AAPL", "migrated", 5, NY),
        ("VIX", "migrated", 5, NY),
    ]
    fresh = FeatureStore(tmp_path / "fresh")  # the same market written the current way
    ingest_frames(fresh, frames, scheme=SplitScheme(3, 2), timezone=NY)
    migrated, expected = load_dataset(legacy, req), load_dataset(fresh, req)
    pd.testing.assert_frame_equal(migrated.frame, expected.frame)
    assert migrated.ts.iloc[0] == pd.Timestamp("2024-03-06 14:30")  # UTC; EST before March 10
    assert str(migrated.local_ts.iloc[-1]) == "2024-03-12 15:50:00-04:00"  # EDT after it (the last bar has no target)
    assert legacy.read_meta("AAPL")["format_version"] == 2

    before = _snapshot(legacy.root)
    again = migrate_store(legacy, "Europe/London")  # idempotent: a recorded zone is left alone
    assert [(r.status, r.files, r.timezone) for r in again] == [("current", 0, NY), ("current", 0, NY)]
    assert _snapshot(legacy.root) == before


def test_an_interrupted_migration_finishes_without_converting_a_file_twice(tmp_path: Path) -> None:
    frames = generate_market(days=3, symbols=("AAPL",), seed=5)
    store = FeatureStore(tmp_path / "store")
    _write_legacy(store.root, frames, SplitScheme(2, 1))
    migrate_store(store, NY)
    meta = store.read_meta("AAPL")
    del meta["timezone"], meta["format_version"]  # as if killed after the files, before the metadata
    (store.symbol_dir("AAPL") / "_meta.json").write_text(json.dumps(meta))
    (result,) = migrate_store(store, NY)
    assert (result.status, result.files) == ("migrated", 0)
    ds = load_dataset(store, LoadRequest.build("AAPL"))
    assert ds.ts.iloc[0] == pd.Timestamp("2024-01-02 14:30")


def test_a_migration_in_a_zone_that_cannot_hold_the_times_changes_nothing(tmp_path: Path) -> None:
    bars = {"XX": pd.DataFrame({"ts": pd.date_range("2024-03-31 00:00", periods=12, freq="15min", tz="UTC")})}
    bars["XX"]["close"] = np.linspace(10, 11, 12)
    store = FeatureStore(tmp_path / "store")
    _write_legacy(store.root, bars, SplitScheme(1, 1))  # naive 2024-03-30 20:00 .. 22:45 (New York)
    yy = bars["XX"].assign(ts=bars["XX"]["ts"] + pd.Timedelta("4h"))  # naive 2024-03-31 00:00 .. 02:45
    _write_legacy(store.root, {"YY": yy}, SplitScheme(1, 1))
    before = _snapshot(store.root)
    gap = r"YY/dt=2024-03-31/v1\.parquet: row 5: local time 2024-03-31 01:00:00 does not exist in Europe/London"
    with pytest.raises(StoreFormatError, match=gap):
        migrate_store(store, "Europe/London")  # XX (fine in London) is not migrated either
    assert _snapshot(store.root) == before
    (only,) = migrate_store(store, NY, symbols=["XX"])
    assert only.status == "migrated" and store.read_meta("YY").get("timezone") is None
