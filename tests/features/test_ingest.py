"""Ingest of bar files: what is accepted, what is refused (naming file, row and fix), nothing half written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from walkforward.data import LoadRequest, load_dataset
from walkforward.domain import SplitScheme
from walkforward.errors import IngestError
from walkforward.features.pipeline import ingest_paths
from walkforward.features.store import FeatureStore


def _bars(n: int = 390 * 3, close_only: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-02-05", periods=-(-n // 390))
    ts = np.concatenate(
        [(d + pd.Timedelta(hours=9, minutes=30) + pd.to_timedelta(np.arange(390), "min")).to_numpy() for d in days]
    )[:n]
    close = 50 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    df = pd.DataFrame({"timestamp": pd.DatetimeIndex(ts).strftime("%Y-%m-%d %H:%M:%S"), "close": close})
    if not close_only:
        df["open"] = close * (1 + rng.normal(0, 1e-4, n))
        df["high"] = np.maximum(df["open"], close) * 1.0005
        df["low"] = np.minimum(df["open"], close) * 0.9995
        df["volume"] = rng.integers(100, 1000, n).astype(float)
    return df


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_close_only_series_is_ingested_and_loadable(tmp_path: Path) -> None:
    path = tmp_path / "vix.csv"
    _bars(close_only=True).to_csv(path, index=False)
    store = FeatureStore(tmp_path / "store")
    (summary,) = ingest_paths(store, [path], symbol="VIX", scheme=SplitScheme(2, 1))
    assert (summary.symbol, summary.days, summary.rows, summary.bar_seconds) == ("VIX", 3, 1170, 60)
    assert summary.train_days == 2 and summary.test_days == 1
    ds = load_dataset(store, LoadRequest.build("VIX", target_transform="log_return"))
    assert "ret_1" in ds.feature_columns and "rsi_14" in ds.feature_columns
    assert not {"ibs", "bop", "stoch_k_14", "mfi_14", "volume"} & set(ds.feature_columns)


def test_long_file_with_a_symbol_column_and_parquet(tmp_path: Path) -> None:
    long = pd.concat([_bars(seed=1).assign(symbol="aaa"), _bars(seed=2).assign(symbol="BBB")])
    path = tmp_path / "bars.parquet"
    long.to_parquet(path)
    store = FeatureStore(tmp_path / "store")
    summaries = ingest_paths(store, [path])
    assert [s.symbol for s in summaries] == ["AAA", "BBB"]
    assert store.symbols() == ["AAA", "BBB"]


def test_file_stem_names_the_symbol_and_reingest_replaces_a_day_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    bars = _bars()
    bars.to_csv(path, index=False)
    store = FeatureStore(tmp_path / "store")
    ingest_paths(store, [path])
    bars.loc[:, "close"] *= 2
    bars.loc[:, ["open", "high", "low"]] *= 2
    bars.to_csv(path, index=False)
    ingest_paths(store, [path])
    ds = load_dataset(store, LoadRequest.build("ABC"))
    assert ds.frame["close"].iloc[0] == pytest.approx(2 * _bars()["close"].iloc[0])
    assert not list((tmp_path / "store").rglob("*.partial")), "a temporary file was left behind"
    assert len(list((tmp_path / "store" / "ABC").glob("dt=*/*.parquet"))) == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns=["close"]), r"bad\.csv: no 'close' column; a close price is required"),
        (
            lambda df: df.rename(columns={"timestamp": "when"}),
            r"bad\.csv: no timestamp column; name one of ts",
        ),
        (
            lambda df: df.assign(timestamp=df["timestamp"].where(df.index != 7, "yesterday")),
            r"bad\.csv: row 8 \(line 9\): unparsable timestamp 'yesterday'; use ISO 8601",
        ),
        (
            lambda df: df.assign(timestamp=df["timestamp"].where(df.index != 5, df["timestamp"][4])),
            r"bad\.csv: row 6 \(line 7\): duplicate timestamp 2024-02-05 09:34:00; keep one bar per timestamp",
        ),
        (
            lambda df: df.assign(close=df["close"].where(df.index != 3, -1.0)),
            r"bad\.csv: row 4 \(line 5\): non-positive price close=-1.0; prices must be > 0",
        ),
        (
            lambda df: df.assign(low=df["low"].where(df.index != 2, 0.0)),
            r"row 3 \(line 4\): non-positive price low=0.0",
        ),
        (
            lambda df: df.assign(volume=df["volume"].where(df.index != 9, np.nan)),
            r"row 10 \(line 11\): column 'volume' is not a finite number",
        ),
        (lambda df: df.iloc[:0], r"bad\.csv: the file holds no rows"),
        (
            lambda df: df.iloc[:1],
            r"bad\.csv: a single bar; the bar size \(minute, hour, day\) cannot be inferred from one row: "
            "ingest at least two bars",
        ),
        (
            lambda df: df.assign(volume=df["volume"].where(df.index != 4, -5.0)),
            r"bad\.csv: row 5 \(line 6\): negative count volume=-5.0; volume must be >= 0 "
            r"\(is the column's sign right\?\) \(1 bad row\(s\)\)$",
        ),
        (
            lambda df: df.assign(trade_count=np.where(df.index == 2, -1.0, 7.0)),
            r"row 3 \(line 4\): negative count trade_count=-1.0; trade_count must be >= 0",
        ),
        (
            lambda df: df.assign(adj_factor=np.where(df.index == 6, 0.0, 1.0)),
            r"row 7 \(line 8\): non-positive adj_factor=0.0; an adjustment factor must be > 0",
        ),
        (lambda df: df.assign(high=df["low"] * 0.5), r"row 1 \(line 2\): high < low"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(tmp_path: Path, mutate, message: str) -> None:
    store = FeatureStore(tmp_path / "store")
    good = tmp_path / "GOOD.csv"
    _bars(seed=5).to_csv(good, index=False)
    ingest_paths(store, [good])
    before = _snapshot(store.root)
    bad = tmp_path / "bad.csv"
    mutate(_bars()).to_csv(bad, index=False)
    other = tmp_path / "OTHER.csv"
    _bars(seed=9).to_csv(other, index=False)
    with pytest.raises(IngestError, match=message):
        ingest_paths(store, [other, bad], scheme=None)  # the good file listed first is not written either
    assert _snapshot(store.root) == before


def test_unreadable_and_unknown_files_are_refused(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(IngestError, match="no such file"):
        ingest_paths(store, [tmp_path / "missing.csv"])
    odd = tmp_path / "AAPL.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(IngestError, match="unknown file type '.xlsx'; use .csv or .parquet"):
        ingest_paths(store, [odd])
    broken = tmp_path / "AAPL.parquet"
    broken.write_bytes(b"PAR1 truncated")
    with pytest.raises(IngestError, match="could not be read as parquet"):
        ingest_paths(store, [broken])
    weird = tmp_path / "x.csv"
    _bars().to_csv(weird, index=False)
    with pytest.raises(IngestError, match="invalid symbol '../x'"):
        ingest_paths(store, [weird], symbol="../x")
    assert not store.root.exists()


def _split_file(tmp_path: Path, *, adjust: str | None = None) -> tuple[Path, str, pd.DataFrame]:
    """30 days of minute bars of ABC with an unadjusted 2:1 split on day 16; optionally an adjustment column."""
    bars = _bars(n=390 * 30, seed=3)
    bars["volume"] = 1e4 * np.exp(np.random.default_rng(4).normal(0, 0.3, len(bars)))
    day = sorted(bars["timestamp"].str[:10].unique())[15]
    after = (bars["timestamp"] >= day).to_numpy()
    raw = bars.copy()
    raw.loc[after, ["open", "high", "low", "close"]] /= 2
    raw.loc[after, "volume"] *= 2
    if adjust == "adj_factor":
        raw["adj_factor"] = np.where(after, 1.0, 0.5)
    elif adjust == "adj_close":
        raw["adj_close"] = raw["close"] * np.where(after, 1.0, 0.5)
    path = tmp_path / "ABC.csv"
    raw.to_csv(path, index=False)
    return path, day, bars


def test_an_unadjusted_split_is_refused_unless_allowed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, day, _ = _split_file(tmp_path)
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(IngestError, match=rf"^ABC: {day} looks like an unadjusted 2:1 split .*--allow-unadjusted"):
        ingest_paths(store, [path])
    assert not store.root.exists()
    (summary,) = ingest_paths(store, [path], allow_unadjusted=True)
    assert summary.adjustment is None and f"ABC: {day} looks like an unadjusted 2:1 split" in caplog.text


@pytest.mark.parametrize("column", ["adj_factor", "adj_close"])
def test_an_adjustment_column_is_applied_and_recorded(tmp_path: Path, column: str) -> None:
    path, _, bars = _split_file(tmp_path, adjust=column)
    store = FeatureStore(tmp_path / "store")
    (summary,) = ingest_paths(store, [path])
    assert summary.adjustment == column
    assert store.read_meta("ABC")["options"]["v1"]["adjustment"] == column
    assert store.describe("ABC").adjustment == column
    ds = load_dataset(store, LoadRequest.build("ABC"))
    expected = bars["close"].to_numpy() * 0.5  # the pre-split scale halved: one continuous series
    np.testing.assert_allclose(ds.frame["close"].to_numpy(), expected[: len(ds.frame)], rtol=1e-9)
    assert "adj_factor" not in ds.frame.columns and "adj_close" not in ds.frame.columns
