"""``walkforward ingest --timezone`` and ``walkforward store migrate`` through the Typer app (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from walkforward.cli import app
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FeatureStore:
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(tmp_path / "fp"))
    monkeypatch.delenv("WALKFORWARD_TIMEZONE", raising=False)
    return FeatureStore(tmp_path / "fp")


def _text(output: str) -> str:
    """Output with rich's line wrapping undone (the console's width depends on the terminal)."""
    return " ".join(output.split())


def _file(tmp_path: Path, name: str) -> Path:
    ts = pd.date_range("2024-07-01 08:00", periods=120, freq="1min")  # naive London summer time
    path = tmp_path / name
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M"), "close": np.linspace(10, 11, 120)}).to_csv(
        path, index=False
    )
    return path


def test_ingest_reads_naive_times_in_the_zone_given_and_says_so(
    tmp_path: Path, store: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "LSE.csv")), "--timezone", "Europe/London", "--json"])
    assert res.exit_code == 0, res.output
    (summary,) = json.loads(res.stdout)
    assert summary["timezone"] == "Europe/London"
    assert (summary["first"], summary["last"]) == ("2024-07-01 08:00:00+01:00", "2024-07-01 09:59:00+01:00")
    assert store.read_meta("LSE")["timezone"] == "Europe/London"

    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "NYSE.csv"))])  # the default zone, said
    assert res.exit_code == 0, res.output
    assert "Time zone America/New_York (the default): naive timestamps were read as local time" in _text(res.stdout)
    monkeypatch.setenv("WALKFORWARD_TIMEZONE", "Asia/Tokyo")
    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "TSE.csv"))])
    assert "Time zone Asia/Tokyo (WALKFORWARD_TIMEZONE)" in _text(res.stdout)
    listed = CliRunner().invoke(app, ["symbols", "--json"])
    assert {s["symbol"]: s["timezone"] for s in json.loads(listed.stdout)} == {
        "LSE": "Europe/London",
        "NYSE": "America/New_York",
        "TSE": "Asia/Tokyo",
    }

    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "LSE.csv"))])  # LSE is stored in London
    assert isinstance(res.exception, InvalidInputError)
    assert "LSE: stored in time zone Europe/London, but this ingest uses Asia/Tokyo" in str(res.exception)
    monkeypatch.setenv("WALKFORWARD_TIMEZONE", "Nowhere/Land")
    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "X.csv"))])
    assert "unknown time zone 'Nowhere/Land' (WALKFORWARD_TIMEZONE)" in str(res.exception)


def test_store_migrate_through_the_cli(tmp_path: Path, store: FeatureStore) -> None:
    res = CliRunner().invoke(app, ["ingest", str(_file(tmp_path, "OLD.csv")), "--timezone", "Europe/London"])
    assert res.exit_code == 0, res.output
    (day,) = store.day_files("OLD")["v1"]
    current = pd.read_parquet(day)
    local = current["ts"].dt.tz_convert("Europe/London").dt.tz_localize(None)
    current.assign(ts=local).to_parquet(day)  # as an older version wrote it: naive local times, no zone
    meta = store.read_meta("OLD")
    del meta["timezone"], meta["format_version"]
    (store.symbol_dir("OLD") / "_meta.json").write_text(json.dumps(meta))
    res = CliRunner().invoke(app, ["store", "migrate", "--timezone", "Europe/London", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"symbol": "OLD", "timezone": "Europe/London", "status": "migrated", "files": 1}]
    (migrated,) = store.day_files("OLD")["v1"]  # a new file, committed with the zone
    assert migrated != day and not day.exists()
    assert pd.read_parquet(migrated)["ts"].equals(current["ts"])
    res = CliRunner().invoke(app, ["store", "migrate", "--json"])  # again: nothing to do
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["status"] == "current"
    res = CliRunner().invoke(app, ["store", "migrate"])
    assert res.exit_code == 0, res.output
    assert "Store migrated to format 2" in _text(res.stdout) and "OLD" in res.stdout
