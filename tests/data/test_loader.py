"""The loader against real Parquet files read by DuckDB: joins, resampling, targets, refusals."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from walkforward.data import LoadRequest, load_dataset
from walkforward.domain import RAW_PRICE_COLUMNS, SplitScheme
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.features.pipeline import ingest_paths
from walkforward.features.store import FeatureStore
from walkforward.model_selection import default_embargo, plan_folds

ALL = "AAPL,MSFT,QQQ,VIX"


def _reference_raw_price(col: str) -> bool:
    """The reference's rule: a raw price column or a suffixed one (close_QQQ)."""
    return col in RAW_PRICE_COLUMNS or any(col.startswith(f"{p}_") for p in RAW_PRICE_COLUMNS)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h", "1d"])
def test_no_raw_price_or_metadata_column_reaches_the_features(demo_store: FeatureStore, timeframe: str) -> None:
    ds = load_dataset(demo_store, LoadRequest.build(ALL, timeframe=timeframe, target_transform="log_return"))
    assert ds.feature_columns
    for col in ds.feature_columns:
        assert not _reference_raw_price(col), col
        assert col not in ("ts", "dt", "target", "data_split", "options", "symbol")
    assert "close" in ds.frame.columns and "close" not in ds.X.columns  # kept for reference only
    assert not any(c.startswith("close_") for c in ds.frame.columns)  # context prices are not even loaded
    assert {"ret_1_QQQ", "ret_1_VIX", "macd_line_MSFT"} <= set(ds.feature_columns)
    assert list(ds.X.columns) == list(ds.feature_columns)


def test_target_is_the_future_price_transformed(demo_store: FeatureStore) -> None:
    raw = load_dataset(demo_store, LoadRequest.build("AAPL", timeframe="5m", lookforward=3))
    logret = load_dataset(
        demo_store, LoadRequest.build("AAPL", timeframe="5m", lookforward=3, target_transform="log_return")
    )
    close = raw.frame["close"].to_numpy()
    assert len(raw.frame) == len(logret.frame)
    np.testing.assert_array_equal(raw.y.to_numpy()[:-3], close[3:])  # 3 bars ahead
    np.testing.assert_allclose(logret.y.to_numpy(), np.log(raw.y.to_numpy() / close))
    assert raw.y.notna().all()


def _pandas_resample(store: FeatureStore, symbols: list[str], rule: str) -> pd.DataFrame:
    """The plain pandas way, for comparison: read, merge on ts, resample with the aggregation table."""
    frames = []
    for i, sym in enumerate(symbols):
        df = pd.concat(pd.read_parquet(p) for p in store.day_files(sym)["v1"])
        df = df.drop(columns=["options"])
        if i:
            df = df.rename(columns={c: f"{c}_{sym}" for c in df.columns if c != "ts"})
        frames.append(df)
    merged = frames[0]
    for f in frames[1:]:
        merged = merged.merge(f, on="ts", how="inner")
    split_cols = [c for c in merged.columns if c.startswith("data_split")]
    merged["data_split"] = np.where((merged[split_cols] == "test").any(axis=1), "test", "train")
    merged = merged.drop(columns=[c for c in split_cols if c != "data_split"])
    agg = {}
    for c in merged.columns:
        base = c.split("_")[0] if c.split("_")[-1] in symbols else c
        if c == "ts":
            continue
        if c == "data_split":
            agg[c] = lambda s: "test" if (s == "test").any() else "train"
        elif base == "open":
            agg[c] = "first"
        elif base == "high":
            agg[c] = "max"
        elif base == "low":
            agg[c] = "min"
        elif c in ("volume", "trade_count") or c.rsplit("_", 1)[0] in ("volume", "trade_count"):
            agg[c] = "sum"
        else:
            agg[c] = "last"
    out = merged.set_index("ts").resample(rule).agg(agg)
    out = out[out["close"].notna()].reset_index()
    return out.assign(ts=out["ts"].dt.tz_convert("UTC").dt.tz_localize(None))  # the loader's ts: naive UTC


def test_resampling_matches_pandas(demo_store: FeatureStore) -> None:
    ds = load_dataset(demo_store, LoadRequest.build("AAPL,QQQ", timeframe="15m", lookforward=1))
    expected = _pandas_resample(demo_store, ["AAPL", "QQQ"], "15min").iloc[:-1]
    assert len(ds.frame) == len(expected)
    np.testing.assert_array_equal(ds.ts.to_numpy(), expected["ts"].to_numpy())
    np.testing.assert_array_equal(ds.frame["data_split"].to_numpy(), expected["data_split"].to_numpy())
    for col in ("open", "high", "low", "close", "volume", "ret_1", "rsi_14", "ret_5_QQQ", "volume_QQQ"):
        np.testing.assert_allclose(
            ds.frame[col].to_numpy(), expected[col].to_numpy(dtype=float), rtol=1e-12, err_msg=col
        )


def test_join_keeps_only_common_timestamps(empty_store: FeatureStore) -> None:
    rng = np.random.default_rng(3)
    ts = pd.date_range("2024-03-04 09:30", periods=300, freq="1min", tz="America/New_York")
    keep = {s: np.sort(rng.choice(300, size=200, replace=False)) for s in ("AAA", "BBB", "CCC")}
    for sym, idx in keep.items():
        frame = pd.DataFrame(
            {
                "ts": ts[idx],
                "close": 100 + rng.random(idx.size),
                "f": rng.random(idx.size),
                "options": "v1",
                "data_split": "train",
            }
        )
        empty_store.write_days(
            sym,
            frame,
            options="v1",
            bar_seconds=60,
            bars_per_day=390,
            features={"f": {"lookback": 1, "group": "standard"}},
            split_scheme=None,
            timezone="America/New_York",
        )
    ds = load_dataset(empty_store, LoadRequest.build("AAA,BBB,CCC"))
    naive_utc = ts.tz_convert("UTC").tz_localize(None)
    common = set(naive_utc[keep["AAA"]]) & set(naive_utc[keep["BBB"]]) & set(naive_utc[keep["CCC"]])
    assert len(ds.frame) == len(common) - 1  # the last row has no target
    assert set(ds.ts) <= common
    assert ds.ts.is_monotonic_increasing and ds.ts.is_unique


def test_date_range_reads_only_the_partitions_it_needs(demo_store: FeatureStore, tmp_path_factory) -> None:
    import shutil

    root = tmp_path_factory.mktemp("pruned")
    shutil.copytree(demo_store.root / "AAPL", root / "AAPL")
    store = FeatureStore(root)
    files = store.day_files("AAPL")["v1"]  # the committed files, by date
    days = [f.parent.name for f in files]
    files[0].write_bytes(b"not parquet")  # a corrupt day outside the range
    start = days[1][3:]
    ds = load_dataset(store, LoadRequest.build("AAPL", start=start, end=days[3][3:]))
    assert ds.ts.dt.date.min().isoformat() == start
    assert ds.ts.dt.date.nunique() == 3
    with pytest.raises(Exception, match="(?i)parquet|magic|invalid"):
        load_dataset(store, LoadRequest.build("AAPL"))


def test_unknown_primary_names_the_symbols_that_exist(demo_store: FeatureStore) -> None:
    with pytest.raises(DataNotFoundError, match="ZZZZ.*AAPL, MSFT, QQQ, VIX"):
        load_dataset(demo_store, LoadRequest.build("ZZZZ,QQQ"))


def test_missing_context_is_skipped_with_a_warning(demo_store: FeatureStore, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(demo_store, LoadRequest.build("AAPL,NOPE,QQQ"))
    assert ds.symbols_used == ("AAPL", "QQQ") and ds.skipped_symbols == ("NOPE",)
    assert "NOPE" in caplog.text
    assert not any(c.endswith("_NOPE") for c in ds.frame.columns)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbols": "../../etc/passwd"}, "invalid symbol"),
        ({"symbols": "AAPL'; DROP TABLE x; --"}, "invalid symbol"),
        ({"symbols": "AAPL,AAPL"}, "listed twice"),
        ({"symbols": ""}, "no symbol"),
        ({"symbols": "AAPL", "timeframe": "7m"}, "unknown timeframe '7m'"),
        ({"symbols": "AAPL", "target_transform": "sqrt"}, "unknown target transform"),
        ({"symbols": "AAPL", "target_col": "volume"}, "invalid target_col"),
        ({"symbols": "AAPL", "lookforward": 0}, "lookforward"),
        ({"symbols": "AAPL", "start": "2024-13-01"}, "invalid start date"),
        ({"symbols": "AAPL", "start": "2024-02-01", "end": "2024-01-01"}, "after end date"),
        ({"symbols": "AAPL", "data_options": "../v1"}, "invalid data options"),
    ],
)
def test_bad_requests_are_refused_with_the_fix(kwargs: dict, message: str) -> None:
    symbols = kwargs.pop("symbols")
    with pytest.raises(InvalidInputError, match=message):
        LoadRequest.build(symbols, **kwargs)


def test_lookforward_larger_than_the_data_is_refused(demo_store: FeatureStore) -> None:
    with pytest.raises(InvalidInputError, match="lookforward 100 is not smaller than the 15 rows"):
        load_dataset(demo_store, LoadRequest.build("AAPL", timeframe="1d", lookforward=100))


def test_dates_with_no_data_say_so(demo_store: FeatureStore) -> None:
    with pytest.raises(DataNotFoundError, match="no data between 2030-01-01"):
        load_dataset(demo_store, LoadRequest.build("AAPL", start="2030-01-01"))


def test_timeframe_finer_than_the_store_is_refused(empty_store: FeatureStore) -> None:
    ts = pd.date_range("2024-01-01", periods=30, freq="1D", tz="America/New_York")
    frame = pd.DataFrame({"ts": ts, "close": np.linspace(10, 20, 30), "options": "v1", "data_split": "train"})
    empty_store.write_days(
        "DAILY",
        frame,
        options="v1",
        bar_seconds=86400,
        bars_per_day=1,
        features={},
        split_scheme=None,
        timezone="America/New_York",
    )
    with pytest.raises(InvalidInputError, match="finer than the stored 86400s bars"):
        load_dataset(empty_store, LoadRequest.build("DAILY", timeframe="5m"))


def test_several_feature_sets_need_a_choice_and_legacy_rows_are_a_fallback(empty_store: FeatureStore) -> None:
    ts = pd.date_range("2024-01-02 09:30", periods=50, freq="1min", tz="America/New_York")
    base = pd.DataFrame({"ts": ts, "close": np.linspace(10, 20, 50), "f": np.arange(50.0), "data_split": "train"})
    feats = {"f": {"lookback": 2, "group": "standard"}}
    empty_store.write_days(
        "XYZ",
        base.assign(options="v1"),
        options="v1",
        bar_seconds=60,
        bars_per_day=390,
        features=feats,
        split_scheme=None,
        timezone="America/New_York",
    )
    empty_store.write_days(
        "XYZ",
        base.assign(options="v2", f=-base["f"]),
        options="v2",
        bar_seconds=60,
        bars_per_day=390,
        features=feats,
        split_scheme=None,
        timezone="America/New_York",
    )
    with pytest.raises(InvalidInputError, match="several feature sets \\(v1, v2\\)"):
        load_dataset(empty_store, LoadRequest.build("XYZ"))
    v2 = load_dataset(empty_store, LoadRequest.build("XYZ", data_options="v2"))
    assert (v2.X["f"] <= 0).all()
    with pytest.raises(DataNotFoundError, match="no rows with data_options 'v9'"):
        load_dataset(empty_store, LoadRequest.build("XYZ", data_options="v9"))
    # legacy files: options left empty by an older writer
    legacy = FeatureStore(empty_store.root.parent / "legacy")
    legacy.write_days(
        "OLD",
        base.assign(options=None),
        options="legacy",
        bar_seconds=60,
        bars_per_day=390,
        features={},
        split_scheme=None,
        timezone="America/New_York",
    )
    ds = load_dataset(legacy, LoadRequest.build("OLD", data_options="v1"))
    assert ds.feature_columns == ("f",) and ds.lookbacks["f"] is None
    with pytest.raises(InvalidInputError, match="no recorded lookback for f"):
        default_embargo(ds)
    assert plan_folds(ds, embargo=3).folds


def test_default_embargo_covers_the_longest_lookback_in_bars_of_the_timeframe(
    demo_store: FeatureStore,
) -> None:
    meta = demo_store.read_meta("AAPL")["options"]["v1"]["features"]
    longest_1m = max(v["lookback"] for v in meta.values())
    one = load_dataset(demo_store, LoadRequest.build("AAPL"))
    five = load_dataset(demo_store, LoadRequest.build("AAPL", timeframe="5m"))
    assert default_embargo(one) == longest_1m
    assert default_embargo(five) == -(-longest_1m // 5) + 1
    assert plan_folds(five).embargo == 0  # walk-forward: no training row of a fold follows its test block
    assert plan_folds(five, strict_embargo=True).embargo == default_embargo(five)
    assert plan_folds(five, embargo=7).embargo == 7


@pytest.mark.slow  # five years of daily bars ingested and planned
def test_daily_bars_shaped_like_the_sp500_keep_every_walk_forward_fold(tmp_path: Path) -> None:
    """1,258 sessions with 120:40 blocks: every test block with a train block before it is a fold.

    The strict embargo (the longest lookback, ~180 sessions here) after every test block leaves
    only the first fold, as before 2026-11-28.
    """
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2019-01-02", periods=1258)
    close = 3000 * np.exp(np.cumsum(rng.normal(0.0003, 0.011, days.size)))
    bars = pd.DataFrame(
        {
            "date": days.strftime("%Y-%m-%d"),
            "open": close * np.exp(rng.normal(0, 0.003, days.size)),
            "close": close,
            "volume": rng.integers(2_000_000, 5_000_000, days.size),
        }
    )
    bars["high"] = bars[["open", "close"]].max(axis=1) * 1.004
    bars["low"] = bars[["open", "close"]].min(axis=1) * 0.996
    path = tmp_path / "SPX.csv"
    bars.to_csv(path, index=False)
    store = FeatureStore(tmp_path / "store")
    ingest_paths(store, [path], scheme=SplitScheme.parse("120:40"))
    ds = load_dataset(store, LoadRequest.build("SPX", timeframe="1d", target_transform="log_return"))
    split = ds.split
    blocks_after_train = int(((split[1:] == "test") & (split[:-1] == "train")).sum())
    assert blocks_after_train == 8  # 7 whole 160-session cycles, then 120 train + 18 test sessions
    plan = plan_folds(ds)
    assert len(plan.folds) == blocks_after_train and plan.embargo == 0
    assert plan.notes and plan.notes[0].startswith("no embargo: in walk-forward")
    assert all(f.embargoed == 0 and f.train_index.max() < f.test_index.min() for f in plan.folds)
    strict = plan_folds(ds, strict_embargo=True)
    assert strict.embargo == default_embargo(ds) >= 120
    assert len(strict.folds) < blocks_after_train
