"""Migrations on every backend: 0004 (rows written at 0003 keep their request, derived values move
out) and 0006 (the list tables are backfilled from existing models)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from migrating import connected, migration_config, schema_diffs, table_names, versions

from walkforward.registry import ModelStore
from walkforward.registry._schema import VERSION_TABLE, json_type
from walkforward.reports.payloads import model_dict, summary_dict

ASKED = {"symbols": ["AAPL", "QQQ"], "lookforward": 4, "start": "2024-01-02", "algorithm": "ridge"}
DERIVED = {
    "input_features": ["rsi_14", "macd", "vix"],
    "feature_source": "store",
    "pruning": {"dropped": ["vix"], "p_values": {"vix": 0.7}},
    "explanations": {"method": "linear", "notes": []},
    "ols_fallback": False,
}

# The models table as revision 0003 left it: only the columns old code wrote.
_old_models = sa.table(
    "models",
    sa.column("created_at", sa.DateTime(timezone=True)),
    *(
        sa.column(name, sa.String())
        for name in ("id", "status", "symbol", "algorithm", "timeframe", "target_transform", "fingerprint")
    ),
    sa.column("artifact_path", sa.String()),
    sa.column("artifact_sha256", sa.String()),
    *(
        sa.column(name, json_type())
        for name in ("symbols", "request", "features", "hyperparameters", "folds", "metrics")
    ),
)


def _old_row(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": model_id,
        "created_at": dt.datetime.now(dt.UTC),
        "status": "ready",
        "symbol": "AAPL",
        "algorithm": "ridge",
        "timeframe": "1h",
        "target_transform": "log_return",
        "fingerprint": f"fp-{model_id}",
        "artifact_path": f"{model_id}.joblib",
        "artifact_sha256": "0" * 64,
        "symbols": ["AAPL", "QQQ"],
        "request": request,
        "features": ["rsi_14"],
        "hyperparameters": {"alpha": 1.0},
        "folds": {},
        "metrics": {"r2": 0.1},
    }


def _requests(url: str) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(_old_models.c.id, _old_models.c.request)).all()
    finally:
        engine.dispose()
    return {str(model_id): request for model_id, request in rows}


def test_0004_moves_derived_keys_out_of_old_requests_and_back(backend_url: str, models_dir: Path) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0003")
    engine = sa.create_engine(backend_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(_old_models), [_old_row("old", {**ASKED, **DERIVED}), _old_row("plain", ASKED)])
    finally:
        engine.dispose()

    # Opening the store migrates to head, as a deployed server does on its first start.
    with ModelStore.open(backend_url, models_dir) as store:
        old = store.get("old")
        assert old.request == ASKED
        assert old.derived == DERIVED
        assert old.fingerprint_version == 1 and old.versions == {}
        plain = store.get("plain")
        assert plain.request == ASKED and plain.derived == {} and plain.fingerprint_version == 1
        # Every other column is untouched.
        assert (old.symbols, old.features, old.metrics, old.fingerprint) == (
            ("AAPL", "QQQ"),
            ("rsi_14",),
            {"r2": 0.1},
            "fp-old",
        )

    # The downgrade merges derived values back into the request and drops the new columns.
    command.downgrade(config, "0003")
    assert _requests(backend_url) == {"old": {**ASKED, **DERIVED}, "plain": ASKED}
    engine = sa.create_engine(backend_url)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("models")}
    finally:
        engine.dispose()
    assert not columns & {"derived", "versions", "fingerprint_version"}
    assert {"request", "feature_details", "cv_score"} <= columns

    # Upgrading again gives the schema the code expects (SQLite's batch copy kept indexes and constraints).
    with ModelStore.open(backend_url, models_dir) as store:
        assert store.get("old").derived == DERIVED
    assert schema_diffs(backend_url) == []


# --------------------------------------------------------------------------- 0006: the list tables

_METRICS_0006 = {
    "trained": {"cv": {"r2": 0.25, "rmse": 2.0, "r2_std": 0.5}, "folds": [{"r2": 0.1}], "score": "r2"},
    "flat": {"r2": 0.5, "rmse": 1.0},
    "classifier": {"cv": {"accuracy": 0.75, "f1": 0.5}, "score": "accuracy"},
    "none": {"cv": {"r2": None}, "note": "no numbers"},
}


def test_0006_backfills_the_list_tables_from_existing_models(backend_url: str, models_dir: Path) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0005")
    rows = []
    for i, (name, metrics) in enumerate(_METRICS_0006.items()):
        row = {**_old_row(name, ASKED), "metrics": metrics, "features": [f"f{j}" for j in range(i + 1)]}
        row["created_at"] = dt.datetime(2026, 1, 1 + i, tzinfo=dt.UTC)
        rows.append(row)
    engine = sa.create_engine(backend_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(_old_models), rows)
            # Columns 0003 did not have yet, set as a 0005 server would have.
            conn.execute(sa.text("UPDATE models SET cohort_id = 'c1', cv_score = 0.25 WHERE id = 'trained'"))
    finally:
        engine.dispose()

    with ModelStore.open(backend_url, models_dir) as store:  # migrates to head: the backfill runs
        page, total = store.list(limit=10)
        assert total == 4 and [r.id for r in page] == ["none", "classifier", "flat", "trained"]
        for row in page:
            assert summary_dict(row) == model_dict(store.get(row.id), brief=True)
        trained = page[-1]
        assert (trained.score_name, trained.n_features, trained.cohort_id, trained.cv_score) == ("r2", 1, "c1", 0.25)
        assert dict(trained.metrics) == {"r2": 0.25, "rmse": 2.0}
        by_r2 = store.list(sort="metrics.r2")[0]
        assert [r.id for r in by_r2] == ["flat", "trained", "none", "classifier"]  # no r2: last, by id
        assert [r.id for r in store.list(sort="metrics.r2_std")[0]][0] == "trained"
        assert [r.id for r in store.list(cohort_id="c1")[0]] == ["trained"]

    command.downgrade(config, "0005")
    assert not {"model_summaries", "model_metrics"} & table_names(backend_url)
    with ModelStore.open(backend_url, models_dir) as store:
        assert store.list()[1] == 4  # backfilled again
        assert store.get("flat").metrics == {"r2": 0.5, "rmse": 1.0}
    assert schema_diffs(backend_url) == []


# --------------------------------------------------------------------------- 0009: every symbol of a model


def test_0009_backfills_every_symbol_of_existing_models(backend_url: str, models_dir: Path) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0005")
    rows = [
        {**_old_row("context", ASKED), "symbols": ["AAPL", "QQQ", "VIX"]},
        {**_old_row("alone", ASKED), "symbol": "MSFT", "symbols": ["MSFT"]},
    ]
    engine = sa.create_engine(backend_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(_old_models), rows)
    finally:
        engine.dispose()

    with ModelStore.open(backend_url, models_dir) as store:  # 0006 and 0009 backfill
        assert [r.id for r in store.list(symbol="VIX")[0]] == ["context"]
        assert store.list(symbol="VIX", primary_only=True)[1] == 0
        assert [r.id for r in store.list(symbol="MSFT")[0]] == ["alone"]
        assert store.list(symbol="AAPL")[1] == 1

    command.downgrade(config, "0008")
    assert "model_symbols" not in table_names(backend_url)
    with ModelStore.open(backend_url, models_dir) as store:
        assert [r.id for r in store.list(symbol="QQQ")[0]] == ["context"]  # backfilled again
    assert schema_diffs(backend_url) == []


# --------------------------------------------------------------------------- a new database: built, not migrated


def _snapshot(url: str) -> dict[str, Any]:
    """Every table's columns (type, nullability), keys, indexes and unique constraints, as the database reports them."""
    with connected(url) as conn:
        inspector = sa.inspect(conn)
        return {
            table: {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                "pk": inspector.get_pk_constraint(table),
                "fks": sorted(map(repr, inspector.get_foreign_keys(table))),
                "indexes": sorted(map(repr, inspector.get_indexes(table))),
                "uniques": sorted(map(repr, inspector.get_unique_constraints(table))),
            }
            for table in sorted(inspector.get_table_names())
        }


def test_a_new_database_is_built_as_the_migrations_build_it(backend_url: str, models_dir: Path) -> None:
    """Opening an empty database creates the declared schema and stamps head (no Alembic, no nine
    migrations); the migrations from scratch give the very same tables, keys, indexes and version,
    and Alembic walks the built database down to nothing and back up."""
    config = migration_config(backend_url)
    command.upgrade(config, "head")
    migrated = _snapshot(backend_url)
    heads = versions(backend_url)
    command.downgrade(config, "base")
    with connected(backend_url) as conn:
        conn.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
    assert table_names(backend_url) == set()

    with ModelStore.open(backend_url, models_dir):
        pass
    assert _snapshot(backend_url) == migrated and versions(backend_url) == heads
    assert schema_diffs(backend_url) == []
    command.downgrade(config, "base")
    assert table_names(backend_url) == {VERSION_TABLE}
    command.upgrade(config, "head")
    assert _snapshot(backend_url) == migrated
