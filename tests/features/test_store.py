"""The store's commit: a manifest written last, readers that see only it, sweeps and legacy stores."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkforward.data import LoadRequest, load_dataset
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.features import manifest as mf
from walkforward.features.store import META_FILE, FeatureStore
from walkforward.preflight import check_request
from walkforward.request import TrainRequest

NY = "America/New_York"
DAYS = [f"2024-03-{d:02d}" for d in (4, 5, 6, 7, 8, 11, 12)]
FEATS = {"f": {"lookback": 1, "group": "standard"}}


def _frame(days: list[str], value: float, options: str = "v1") -> pd.DataFrame:
    """Ten minute bars per day whose close is ``value`` (so a load shows which write it came from)."""
    ts = pd.DatetimeIndex([pd.Timestamp(f"{d} 09:30") + pd.Timedelta(minutes=m) for d in days for m in range(10)])
    ts = ts.tz_localize(NY)
    return pd.DataFrame({"ts": ts, "close": np.full(len(ts), value), "f": np.arange(len(ts), dtype=float)}).assign(
        options=options, data_split="train"
    )


def _write(store: FeatureStore, symbol: str, days: list[str], value: float, options: str = "v1") -> int:
    return store.write_days(
        symbol,
        _frame(days, value, options),
        options=options,
        bar_seconds=60,
        bars_per_day=10,
        features=FEATS,
        split_scheme=None,
        timezone=NY,
    )


def _closes(store: FeatureStore, symbol: str, options: str | None = None) -> dict[str, float]:
    """The close of each loaded day (every bar of a day has the same close)."""
    ds = load_dataset(store, LoadRequest.build(symbol, data_options=options), drop_unlabelled=False)
    return ds.frame.groupby(ds.local_ts.dt.strftime("%Y-%m-%d").to_numpy())["close"].first().to_dict()


@pytest.fixture()
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped (an interrupted writer's)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {".lock"}


# --------------------------------------------------------------------------- pure manifest logic


def test_commit_replaces_only_the_written_days_and_names_what_it_supersedes() -> None:
    meta = {"symbol": "X", "options": {"v1": {"features": FEATS}}}
    first, superseded = mf.commit(meta, None, {"v1": {"2024-01-02": "v1@1-a.parquet", "2024-01-03": "v1@1-a.parquet"}})
    assert superseded == [] and first[mf.MANIFEST_KEY] == 1 and first["options"]["v1"]["features"] == FEATS
    current = mf.from_meta(first, lambda: [])
    assert current is not None and current.dates() == ["2024-01-02", "2024-01-03"]
    second, superseded = mf.commit(
        first, current, {"v1": {"2024-01-03": "v1@2-b.parquet", "2024-01-04": "v1@2-b.parquet"}}
    )
    assert superseded == ["dt=2024-01-03/v1@1-a.parquet"]
    assert second["options"]["v1"]["days"] == {
        "2024-01-02": "v1@1-a.parquet",
        "2024-01-03": "v1@2-b.parquet",
        "2024-01-04": "v1@2-b.parquet",
    }


def test_a_legacy_meta_adopts_its_plain_day_files_and_nothing_else() -> None:
    listing = ["dt=2024-01-02/v1.parquet", "dt=2024-01-02/v1@9-ab.parquet", "dt=2024-01-03/v1.parquet", "x/v1.parquet"]
    man = mf.from_meta({"symbol": "X", "bar_seconds": 60}, lambda: listing)
    assert man is not None and man.legacy
    assert man.versions == {"v1": {"2024-01-02": "dt=2024-01-02/v1.parquet", "2024-01-03": "dt=2024-01-03/v1.parquet"}}
    assert mf.from_meta({}, lambda: listing) is None  # no meta: nothing was committed


def test_leftovers_are_unlisted_files_of_dead_or_old_writers() -> None:
    man = mf.Manifest({"v1": {"2024-01-02": "dt=2024-01-02/v1@5-aa.parquet"}})
    now = 10_000.0
    files = [
        ("dt=2024-01-02/v1@5-aa.parquet", now),  # listed
        ("dt=2024-01-02/v1@6-bb.parquet", now),  # a dead writer's
        ("dt=2024-01-03/v1@7-cc.parquet", now),  # a live writer's, recent: kept
        ("dt=2024-01-03/v1@7-dd.parquet", now - 2 * mf.GRACE_SECONDS),  # a live pid, but too old (pid reuse)
        (".tmp-6-xyz.partial", now),  # a dead writer's meta temp file
        ("dt=2024-01-04/v1.parquet", now),  # a superseded legacy file whose deletion was cut short
        ("dt=2024-01-04/.tmp-k2j4_x9a.partial", now - 2 * mf.GRACE_SECONDS),  # the old writer's, old
        ("dt=2024-01-05/.tmp-q8z1mm0b.partial", now),  # the old writer's, recent: it may be running
        ("notes.txt", now),  # not ours
        (META_FILE, now),
    ]
    gone = mf.leftovers(files, man, now=now, alive=lambda pid: pid == 7)
    assert gone == [
        ".tmp-6-xyz.partial",
        "dt=2024-01-02/v1@6-bb.parquet",
        "dt=2024-01-03/v1@7-dd.parquet",
        "dt=2024-01-04/.tmp-k2j4_x9a.partial",
        "dt=2024-01-04/v1.parquet",
    ]
    legacy = mf.Manifest({}, legacy=True)
    assert mf.leftovers([("dt=2024-01-04/v1.parquet", now)], legacy, now=now, alive=lambda _: False) == []


# --------------------------------------------------------------------------- the store on disk


def test_unlisted_files_are_invisible_until_the_manifest_lands(empty_store: FeatureStore, dead_pid: int) -> None:
    _write(empty_store, "AAA", DAYS[:4], 10.0)
    before = _closes(empty_store, "AAA")
    folder = empty_store.symbol_dir("AAA")
    # what a killed re-ingest leaves: new-generation files for old and new days, and no new manifest
    for day in DAYS[2:6]:
        (folder / f"dt={day}").mkdir(exist_ok=True)
        _frame([day], 99.0).to_parquet(folder / f"dt={day}" / f"v1@{dead_pid}-dead.parquet")
    assert _closes(empty_store, "AAA") == before == dict.fromkeys(DAYS[:4], 10.0)
    assert empty_store.describe("AAA").days == 4
    _write(empty_store, "AAA", DAYS[3:5], 20.0)  # the next ingest commits and sweeps
    assert _closes(empty_store, "AAA") == {**dict.fromkeys(DAYS[:3], 10.0), DAYS[3]: 20.0, DAYS[4]: 20.0}
    listed = empty_store.manifest("AAA")
    assert listed is not None and _files(folder) == listed.listed() | {META_FILE}


def test_a_symbol_without_a_manifest_is_not_listed_and_says_why(empty_store: FeatureStore, dead_pid: int) -> None:
    _write(empty_store, "AAA", DAYS, 10.0)
    folder = empty_store.root / "BBB"  # a first ingest killed after three days
    for day in DAYS[:3]:
        (folder / f"dt={day}").mkdir(parents=True)
        _frame([day], 5.0).to_parquet(folder / f"dt={day}" / f"v1@{dead_pid}-dead.parquet")
    assert empty_store.symbols() == ["AAA"] and empty_store.unfinished("BBB") and not empty_store.unfinished("AAA")
    message = r"primary symbol BBB: an ingest did not finish; rerun `walkforward ingest` with the BBB bars"
    with pytest.raises(DataNotFoundError, match=message):
        load_dataset(empty_store, LoadRequest.build("BBB"))
    with pytest.raises(InvalidInputError, match="BBB: an ingest did not finish, so the store holds none of its data"):
        check_request(TrainRequest(symbol="AAA,BBB", algorithm="linear_regression"), store=empty_store)
    with pytest.raises(FileNotFoundError):
        empty_store.describe("BBB")


def test_a_failed_write_takes_back_its_files_and_keeps_the_previous_state(empty_store: FeatureStore) -> None:
    _write(empty_store, "AAA", DAYS[:3], 10.0)
    folder = empty_store.symbol_dir("AAA")
    before = _files(folder)
    frame = _frame(DAYS[:5], 30.0)
    frame["f"] = frame["f"].astype(object)
    day4 = (frame["ts"].dt.strftime("%Y-%m-%d") == DAYS[3]).to_numpy()
    frame.loc[day4, "f"] = pd.Series([object()] * int(day4.sum()), index=frame.index[day4])  # no Arrow type
    with pytest.raises(Exception, match="(?i)convert"):
        empty_store.write_days(
            "AAA", frame, options="v1", bar_seconds=60, bars_per_day=10, features=FEATS, split_scheme=None, timezone=NY
        )
    assert _files(folder) == before
    assert _closes(empty_store, "AAA") == dict.fromkeys(DAYS[:3], 10.0)


def test_sweep_keeps_a_live_writers_recent_files(empty_store: FeatureStore) -> None:
    _write(empty_store, "AAA", DAYS[:2], 10.0)
    folder = empty_store.symbol_dir("AAA")
    mine = folder / f"dt={DAYS[0]}" / mf.day_file_name("v1", mf.generation_token(os.getpid(), "abc"))
    old = folder / f"dt={DAYS[1]}" / mf.day_file_name("v1", mf.generation_token(os.getpid(), "def"))
    for p in (mine, old):
        p.write_bytes(b"in progress")
    past = time.time() - 2 * mf.GRACE_SECONDS
    os.utime(old, (past, past))
    assert empty_store.sweep("AAA") == [old.relative_to(folder).as_posix()]
    assert mine.exists() and not old.exists()


def test_a_legacy_store_loads_and_migrates_on_its_next_write(empty_store: FeatureStore) -> None:
    folder = empty_store.root / "OLD"  # as the writer before manifests (format 2: UTC, a zone) left it
    for day in DAYS[:4]:
        (folder / f"dt={day}").mkdir(parents=True)
        legacy = _frame([day], 10.0)
        legacy.assign(ts=legacy["ts"].dt.tz_convert("UTC")).to_parquet(folder / f"dt={day}" / "v1.parquet")
    (folder / META_FILE).write_text(
        json.dumps(
            {
                "symbol": "OLD",
                "bar_seconds": 60,
                "bars_per_day": 10,
                "timezone": NY,
                "format_version": 2,
                "options": {"v1": {"features": FEATS}},
            }
        )
    )
    assert empty_store.symbols() == ["OLD"] and empty_store.describe("OLD").days == 4
    assert _closes(empty_store, "OLD") == dict.fromkeys(DAYS[:4], 10.0)
    _write(empty_store, "OLD", DAYS[3:5], 20.0)
    meta = empty_store.read_meta("OLD")
    assert meta[mf.MANIFEST_KEY] == 1
    days = meta["options"]["v1"]["days"]
    assert [days[d] for d in DAYS[:3]] == ["v1.parquet"] * 3  # adopted, not rewritten
    assert days[DAYS[3]].startswith("v1@") and not (folder / f"dt={DAYS[3]}" / "v1.parquet").exists()
    assert _closes(empty_store, "OLD") == {**dict.fromkeys(DAYS[:3], 10.0), DAYS[3]: 20.0, DAYS[4]: 20.0}


def test_a_load_that_races_a_reingest_reads_the_new_state(empty_store: FeatureStore) -> None:
    """A re-ingest commits between the loader's manifest read and its file read: the load is redone."""
    _write(empty_store, "AAA", DAYS[:4], 10.0)

    class RacedStore(FeatureStore):
        raced = False

        def day_files(self, symbol, options=None, *, start=None, end=None, meta=None):  # type: ignore[no-untyped-def]
            files = super().day_files(symbol, options, start=start, end=end, meta=meta)
            if not self.raced:  # the commit lands right after the manifest was read
                self.raced = True
                _write(FeatureStore(self.root), "AAA", DAYS[:4], 20.0)
            return files

    raced = RacedStore(empty_store.root)
    assert _closes(raced, "AAA") == dict.fromkeys(DAYS[:4], 20.0)
    assert raced.raced


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    writes=st.lists(
        st.tuples(st.sampled_from(["v1", "v2"]), st.sets(st.sampled_from(DAYS), min_size=1)), min_size=1, max_size=4
    )
)
def test_the_store_always_shows_the_last_write_of_each_day(tmp_path_factory, writes) -> None:
    store = FeatureStore(tmp_path_factory.mktemp("prop"))
    expected: dict[str, dict[str, float]] = {}
    for i, (options, days) in enumerate(writes):
        _write(store, "AAA", sorted(days), float(i + 1), options)
        expected.setdefault(options, {}).update(dict.fromkeys(days, float(i + 1)))
    for options, days in expected.items():
        assert _closes(store, "AAA", options) == dict(sorted(days.items()))
    listed = store.manifest("AAA")
    assert listed is not None and _files(store.symbol_dir("AAA")) == listed.listed() | {META_FILE}
