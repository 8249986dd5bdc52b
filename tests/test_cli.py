"""The console script, run as a real process: JSON output, tables, and errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(tmp / "fp"),
        "MODELS_DIR": str(tmp / "models"),
        "METADATA_DB_PATH": str(tmp / "meta.db"),
        "COLUMNS": "200",
    }
    env.pop("METADATA_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "walkforward", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    res = run(tmp, "demo-data", "--days", "12", "--symbols", "AAPL,QQQ,VIX", "--split-scheme", "4:2", "--json")
    assert res.returncode == 0, res.stderr
    written = json.loads(res.stdout)
    assert [w["symbol"] for w in written] == ["AAPL", "QQQ", "VIX"]
    assert all(w["days"] == 12 and w["rows"] == 12 * 390 for w in written)
    return tmp


def test_symbols_and_dataset_json(home: Path) -> None:
    res = run(home, "symbols", "--json")
    assert res.returncode == 0, res.stderr
    assert [s["symbol"] for s in json.loads(res.stdout)] == ["AAPL", "QQQ", "VIX"]
    res = run(
        home,
        "dataset",
        "AAPL,QQQ,VIX",
        "--timeframe",
        "5m",
        "--target-transform",
        "log_return",
        "--lookforward",
        "3",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["symbols"] == ["AAPL", "QQQ", "VIX"] and d["timeframe"] == "5m"
    assert d["rows"] == 12 * 78 - 3
    # walk-forward needs no embargo (every training row precedes its fold's test block): both folds, said
    assert len(d["folds"]["folds"]) == 2 and d["folds"]["embargo"] == 0
    assert d["folds"]["notes"][0].startswith("no embargo: in walk-forward")
    res = run(
        home,
        "dataset",
        "AAPL,QQQ,VIX",
        "--timeframe",
        "5m",
        "--lookforward",
        "3",
        "--embargo",
        "12",
        "--json",
    )
    d = json.loads(res.stdout)
    assert [(f["purged"], f["embargoed"]) for f in d["folds"]["folds"]] == [(3, 0), (3, 12)]
    assert not any(c.startswith(("close", "open", "high", "low", "vwap")) for c in d["feature_columns"])


def test_dataset_table_output(home: Path) -> None:
    res = run(home, "dataset", "AAPL,QQQ", "--timeframe", "15m")
    assert res.returncode == 0, res.stderr
    assert "Folds (walk_forward; times in UTC)" in res.stdout and "embargoed" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dataset", "ZZZ"], "primary symbol ZZZ: not in the store. Symbols in the store: AAPL, QQQ, VIX"),
        (["dataset", "AAPL;DROP"], "invalid symbol 'AAPL;DROP'"),
        (
            ["dataset", "AAPL", "--timeframe", "2m"],
            "invalid timeframe='2m': Input should be '1m', '5m', '15m', '1h' or '1d'",
        ),
        (
            ["dataset", "AAPL", "--validation", "kfold"],
            "invalid validation='kfold': Input should be 'walk_forward', 'expanding' or 'holdout'",
        ),
        (["ingest", "/nonexistent/AAPL.csv"], "no such file"),
        (
            ["ingest", "/nonexistent/AAPL.csv", "--timezone", "Mars/Olympus"],
            "unknown time zone 'Mars/Olympus' (--timezone)",
        ),
        (["store", "migrate", "--timezone", "Nowhere/Land"], "unknown time zone 'Nowhere/Land' (--timezone)"),
        (["demo-data", "--split-scheme", "sixty"], "invalid split scheme 'sixty'"),
        (["models", "delete-cohort", "abc"], "no cohort 'abc'"),
        (["models", "cohort", "abc"], "no cohort 'abc'"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(home: Path, args: list[str], message: str) -> None:
    res = run(home, *args)
    assert res.returncode == 2
    assert message in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr


def test_help_lists_the_commands_by_subject(tmp_path: Path) -> None:
    res = run(tmp_path, "--help")
    assert res.returncode == 0, res.stderr
    commands = [
        "demo-data",
        "ingest",
        "symbols",
        "dataset",
        "store",
        "demo",
        "train",
        "search",
        "predict",
        "serve",
        "models",
    ]
    assert all(f" {c} " in res.stdout for c in commands)
    assert "job-worker" not in res.stdout
    assert "No such command 'job-worker'" in run(tmp_path, "job-worker", "x").stderr


def test_ingest_reads_naive_times_in_the_timezone_given_and_says_so(tmp_path: Path) -> None:
    import pandas as pd

    ts = pd.date_range("2024-02-05 09:00", periods=30, freq="1min")  # naive Tokyo times
    pd.DataFrame({"ts": ts.strftime("%Y-%m-%d %H:%M:%S"), "close": range(1, 31)}).to_csv(
        tmp_path / "TSE.csv", index=False
    )
    res = run(tmp_path, "ingest", str(tmp_path / "TSE.csv"), "--timezone", "Asia/Tokyo")
    assert res.returncode == 0, res.stderr
    assert "Time zone Asia/Tokyo (--timezone): naive timestamps were read as local time there" in " ".join(
        res.stdout.split()
    )
    assert "2024-02-05 09:00:00+09:00" in res.stdout
    res = run(tmp_path, "ingest", str(tmp_path / "TSE.csv"))  # the default zone differs from the stored one
    assert res.returncode == 2
    assert "TSE: stored in time zone Asia/Tokyo, but this ingest uses America/New_York" in " ".join(res.stderr.split())


@pytest.mark.parametrize("argv", [["--help"], ["models", "nope-command"]])
def test_a_command_ends_with_its_heap_frozen_for_a_quick_exit(argv: list[str]) -> None:
    """Whatever the outcome, main() collects and freezes the heap (walkforward.shutdown), so the
    interpreter's shutdown does not walk scikit-learn's and pandas' objects again."""
    code = (
        "import gc, sys\n"
        f"sys.argv = ['walkforward', *{argv!r}]\n"
        "from walkforward.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('frozen', gc.get_freeze_count(), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    frozen = int(run.stderr.strip().splitlines()[-1].removeprefix("frozen "))
    assert frozen > 1000, run.stderr
