"""Time zones at ingest: instants in the store, naive times read in the exchange zone, DST refusals.

Issue 10: a file with ``-05:00`` offsets next to a naive New York file of the same bars used to be
stored 5 hours apart, and ``DESC,TZ`` joined 09:30 of one with 14:30 of the other (179 rows of
two days instead of 779) without a warning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from walkforward.data import LoadRequest, load_dataset
from walkforward.errors import IngestError, InvalidInputError
from walkforward.features.ingest import validate_bars
from walkforward.features.pipeline import ingest_frames, ingest_paths
from walkforward.features.store import FeatureStore
from walkforward.features.zones import dst_problem

NY = "America/New_York"


def _sessions(days: list[str], open_: str = "09:30", minutes: int = 390) -> pd.DatetimeIndex:
    """Naive local minute bars from ``open_`` on each day."""
    start = pd.Timedelta(f"{open_}:00")
    return pd.DatetimeIndex(
        np.concatenate(
            [(pd.Timestamp(d) + start + pd.to_timedelta(np.arange(minutes), "min")).to_numpy() for d in days]
        )
    )


def _csv(path: Path, stamps: pd.Index | list[str], close: np.ndarray) -> Path:
    pd.DataFrame({"timestamp": list(stamps), "close": close}).to_csv(path, index=False)
    return path


def _walk(n: int, seed: int = 0) -> np.ndarray:
    return 50 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 1e-3, n)))


def _stored_ts(store: FeatureStore, symbol: str) -> pd.Series:
    files = sorted(store.symbol_dir(symbol).glob("dt=*/*.parquet"))
    return pd.concat([pd.read_parquet(f, columns=["ts"]) for f in files], ignore_index=True)["ts"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_offset_file_and_a_naive_file_of_the_same_bars_join_row_for_row(tmp_path: Path) -> None:
    local = _sessions(["2024-02-05", "2024-02-06"])
    close = _walk(len(local))
    desc = _csv(tmp_path / "DESC.csv", local.strftime("%Y-%m-%d %H:%M:%S"), close)
    aware = local.tz_localize(NY).strftime("%Y-%m-%dT%H:%M:%S%z")  # 2024-02-05T09:30:00-0500
    tz = _csv(tmp_path / "TZ.csv", aware, 2 * close)  # planted: TZ's price is DESC's doubled, bar for bar
    store = FeatureStore(tmp_path / "store")
    summaries = ingest_paths(store, [desc, tz])
    assert [s.timezone for s in summaries] == [NY, NY]
    assert summaries[0].first == "2024-02-05 09:30:00-05:00"
    pd.testing.assert_series_equal(_stored_ts(store, "DESC"), _stored_ts(store, "TZ"))
    assert _stored_ts(store, "DESC").iloc[0] == pd.Timestamp("2024-02-05 14:30", tz="UTC")
    assert store.read_meta("TZ")["timezone"] == NY and store.read_meta("TZ")["format_version"] == 2
    ds = load_dataset(store, LoadRequest.build("DESC,TZ"))
    assert len(ds.frame) == 2 * 390 - 1  # 179 before zones were explicit
    np.testing.assert_allclose(ds.X["ret_1"], ds.X["ret_1_TZ"], rtol=1e-9)
    assert ds.timezone == NY and str(ds.local_ts.iloc[0]) == "2024-02-05 09:30:00-05:00"


def test_symbols_of_two_exchanges_join_on_the_instants_they_share(tmp_path: Path) -> None:
    days = ["2024-02-05", "2024-02-06", "2024-02-07"]
    ny = _sessions(days, "09:30", 390).tz_localize(NY)  # 14:30-21:00 UTC in February
    lon = _sessions(days, "08:00", 510).tz_localize("Europe/London")  # 08:00-16:30 UTC
    minutes = pd.date_range("2024-02-05", "2024-02-08", freq="1min", tz="UTC", inclusive="left")
    price = pd.Series(_walk(len(minutes), seed=4), index=minutes)  # one price path, shown by both exchanges
    _csv(tmp_path / "NYX.csv", ny.strftime("%Y-%m-%d %H:%M:%S"), price[ny].to_numpy())
    _csv(tmp_path / "LON.csv", lon.strftime("%Y-%m-%d %H:%M:%S"), 3 * price[lon].to_numpy())
    store = FeatureStore(tmp_path / "store")
    ingest_paths(store, [tmp_path / "NYX.csv"], timezone=NY)
    ingest_paths(store, [tmp_path / "LON.csv"], timezone="Europe/London")
    ds = load_dataset(store, LoadRequest.build("NYX,LON"), drop_unlabelled=False)
    common = ny.intersection(lon).tz_convert("UTC").tz_localize(None)
    assert len(common) == 3 * 120  # 14:30-16:29 UTC each day
    assert list(ds.ts) == list(common)
    first_of_day = ds.local_ts.dt.strftime("%H:%M") == "09:30"  # NYX's return there spans the night
    np.testing.assert_allclose(ds.X["ret_1"][~first_of_day], ds.X["ret_1_LON"][~first_of_day], rtol=1e-9)
    daily = load_dataset(store, LoadRequest.build("NYX,LON", timeframe="1d"), drop_unlabelled=False)
    assert [str(t) for t in daily.local_ts] == [f"{d} 00:00:00-05:00" for d in days]


def test_a_date_range_means_local_dates_of_the_primary_for_every_symbol(tmp_path: Path) -> None:
    hours = pd.date_range("2024-02-04", "2024-02-09", freq="1h", tz="UTC", inclusive="left")
    bars = pd.DataFrame({"ts": hours, "close": _walk(len(hours), seed=2)})
    store = FeatureStore(tmp_path / "store")
    ingest_frames(store, {"PRI": bars}, timezone=NY)
    ingest_frames(store, {"CTX": bars.assign(close=bars["close"] * 2)}, timezone="Asia/Tokyo")
    assert (store.symbol_dir("CTX") / "dt=2024-02-07").is_dir()  # Tokyo's dates, not New York's
    req = LoadRequest.build("PRI,CTX", timeframe="1h", start="2024-02-06", end="2024-02-06")
    ds = load_dataset(store, req, drop_unlabelled=False)
    day = pd.date_range("2024-02-06", periods=24, freq="1h", tz=NY)  # spans two Tokyo dates
    assert list(ds.ts) == list(day.tz_convert("UTC").tz_localize(None))
    np.testing.assert_allclose(ds.X["ret_1"], ds.X["ret_1_CTX"], rtol=1e-9)


@pytest.mark.parametrize(
    ("start", "zone", "message"),
    [
        (
            "2024-03-10 00:00",
            NY,
            r"DST\.csv: row 9 \(line 10\): local time 2024-03-10 02:00:00 does not exist in America/New_York "
            r"\(clocks go forward\); give the timestamps UTC offsets .* \(4 such row\(s\)\)",
        ),
        (
            "2024-11-03 00:00",
            NY,
            r"DST\.csv: row 5 \(line 6\): local time 2024-11-03 01:00:00 occurs twice in America/New_York "
            r"\(clocks go back\); give the timestamps UTC offsets",
        ),
        ("2024-03-31 00:00", "Europe/London", r"row 5 \(line 6\): local time 2024-03-31 01:00:00 does not exist"),
    ],
)
def test_naive_times_a_dst_change_makes_missing_or_ambiguous_are_refused(
    tmp_path: Path, start: str, zone: str, message: str
) -> None:
    local = pd.date_range(start, periods=20, freq="15min")  # naive: the clock as printed
    path = _csv(tmp_path / "DST.csv", local.strftime("%Y-%m-%d %H:%M:%S"), _walk(20))
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(IngestError, match=message):
        ingest_paths(store, [path], timezone=zone)
    assert not store.root.exists()


@pytest.mark.parametrize("start", ["2024-03-10 00:00", "2024-11-03 00:00"])
def test_times_with_offsets_across_a_dst_change_keep_their_instants(tmp_path: Path, start: str) -> None:
    instants = pd.date_range(pd.Timestamp(start, tz=NY), pd.Timestamp(start, tz=NY) + pd.Timedelta("4h"), freq="15min")
    path = _csv(tmp_path / "DST.csv", instants.strftime("%Y-%m-%dT%H:%M:%S%z"), _walk(len(instants)))
    store = FeatureStore(tmp_path / "store")
    (summary,) = ingest_paths(store, [path])
    stored = _stored_ts(store, "DST")
    assert list(stored) == list(instants.tz_convert("UTC"))
    assert (stored.diff().dropna() == pd.Timedelta("15min")).all()  # no hour lost, none doubled
    assert summary.days == 1 and [p.name for p in store.symbol_dir("DST").glob("dt=*")] == [f"dt={start[:10]}"]


def test_parquet_timestamp_columns_naive_or_aware_give_the_same_instants(tmp_path: Path) -> None:
    local = _sessions(["2024-03-08", "2024-03-11"], minutes=30)  # a DST change in between
    close = _walk(len(local))
    pd.DataFrame({"ts": local, "close": close}).to_parquet(tmp_path / "NAIVE.parquet")
    pd.DataFrame({"ts": local.tz_localize(NY).tz_convert("Asia/Tokyo"), "close": close}).to_parquet(
        tmp_path / "AWARE.parquet"
    )
    store = FeatureStore(tmp_path / "store")
    ingest_paths(store, [tmp_path / "NAIVE.parquet", tmp_path / "AWARE.parquet"])
    pd.testing.assert_series_equal(_stored_ts(store, "NAIVE"), _stored_ts(store, "AWARE"))
    assert [str(t.time()) for t in _stored_ts(store, "AWARE").iloc[[0, 30]]] == ["14:30:00", "13:30:00"]


def test_a_file_mixing_offsets_and_local_times_is_refused(tmp_path: Path) -> None:
    stamps = list(_sessions(["2024-02-05"], minutes=5).strftime("%Y-%m-%d %H:%M:%S"))
    stamps[3] = "2024-02-05T09:33:00-05:00"
    path = _csv(tmp_path / "MIX.csv", stamps, _walk(5))
    with pytest.raises(IngestError, match=r"MIX\.csv: row 4 \(line 5\): .* has a UTC offset unlike row 1"):
        ingest_paths(FeatureStore(tmp_path / "store"), [path])


def test_an_unknown_zone_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(InvalidInputError, match=r"unknown time zone 'Mars/Olympus'.*IANA zone name"):
        ingest_paths(store, [tmp_path / "missing.csv"], timezone="Mars/Olympus")
    with pytest.raises(InvalidInputError, match="did you mean Europe/London"):
        ingest_paths(store, [tmp_path / "missing.csv"], timezone="europe/london")
    assert not store.root.exists()


def test_a_symbol_is_not_reingested_in_another_zone(tmp_path: Path) -> None:
    local = _sessions(["2024-02-05"], minutes=60)
    path = _csv(tmp_path / "LON.csv", local.strftime("%Y-%m-%d %H:%M:%S"), _walk(60))
    other = _csv(tmp_path / "NEW.csv", local.strftime("%Y-%m-%d %H:%M:%S"), _walk(60, seed=1))
    store = FeatureStore(tmp_path / "store")
    ingest_paths(store, [path], timezone="Europe/London")
    before = _snapshot(store.root)
    with pytest.raises(InvalidInputError, match="LON: stored in time zone Europe/London, but this ingest uses America"):
        ingest_paths(store, [other, path], timezone=NY)  # NEW, listed first, is not written either
    assert _snapshot(store.root) == before
    ingest_paths(store, [path], timezone="Europe/London")  # the same zone: replaced as before


def test_naive_frames_given_to_the_library_are_read_in_the_zone(tmp_path: Path) -> None:
    naive = pd.DataFrame({"ts": pd.date_range("2024-03-10 01:00", periods=8, freq="15min"), "close": _walk(8)})
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(InvalidInputError, match=r"GAP: row 5: local time 2024-03-10 02:00:00 does not exist"):
        ingest_frames(store, {"GAP": naive}, timezone=NY)
    (summary,) = ingest_frames(store, {"TOK": naive}, timezone="Asia/Tokyo")
    assert summary.first == "2024-03-10 01:00:00+09:00"
    assert _stored_ts(store, "TOK").iloc[0] == pd.Timestamp("2024-03-09 16:00", tz="UTC")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.timezone_keys(allow_prefix=False),
    start=st.datetimes(
        min_value=pd.Timestamp("1990-01-01").to_pydatetime(), max_value=pd.Timestamp("2035-12-31").to_pydatetime()
    ),
    n=st.integers(2, 40),  # a single bar is refused (its bar size cannot be inferred)
    step=st.integers(1, 24 * 60),
)
def test_offsets_and_their_naive_local_times_give_the_same_instants(zone: str, start, n: int, step: int) -> None:
    local = pd.Series(pd.date_range(pd.Timestamp(start).floor("s"), periods=n, freq=f"{step}min"))
    assume(dst_problem(local, zone) is None)  # those are refused (tested above)
    aware = local.dt.tz_localize(zone)
    close = np.linspace(1.0, 2.0, n)
    as_naive = validate_bars(
        pd.DataFrame({"ts": local.dt.strftime("%Y-%m-%d %H:%M:%S"), "close": close}), Path("a.csv"), zone
    )
    as_offset = validate_bars(
        pd.DataFrame({"ts": aware.dt.strftime("%Y-%m-%dT%H:%M:%S%z"), "close": close}), Path("b.csv"), "UTC"
    )
    as_utc = validate_bars(
        pd.DataFrame({"ts": aware.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "close": close}),
        Path("c.csv"),
        "Asia/Tokyo",  # ignored: these times carry their offset
    )
    pd.testing.assert_series_equal(as_naive["ts"], as_offset["ts"])
    pd.testing.assert_series_equal(as_naive["ts"], as_utc["ts"])
    assert str(as_naive["ts"].dtype) == "datetime64[ns, UTC]"
