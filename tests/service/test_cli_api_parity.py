"""The CLI's ``--json`` and the API answer from the same query layer; the service never loads the terminal UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from walkforward.cli import app as cli_app
from walkforward.registry import ModelRecord, NewModel
from walkforward.service import Services

# scikit-learn imports rich when it is installed (an optional progress bar), so "rich is not in
# sys.modules" cannot hold; what must hold is that the service works without it: rich is refused as
# if it were not installed, and no module of the CLI or of the tables is loaded.
_NO_RICH = """
import json, sys

class NoRich:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("rich", "typer"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoRich())
import walkforward.service.app, walkforward.queries, walkforward.reports
walkforward.service.app.create_app
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("walkforward.cli", "walkforward.reports.tables")))))
"""


@pytest.mark.slow
def test_the_service_imports_without_rich_and_without_the_cli() -> None:
    res = subprocess.run([sys.executable, "-c", _NO_RICH], capture_output=True, text=True, timeout=120, env=os.environ)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == []


def _add(svc: Services, score: float, **fields: Any) -> ModelRecord:
    """Register a model with real metadata and a small artifact (no training needed to read it back)."""
    folds = [{"fold": i, "r2": score + d} for i, d in enumerate((0.02, -0.01, 0.0))]
    new = NewModel(
        symbol="AAPL",
        symbols=("AAPL", "QQQ"),
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        request={"symbol": "AAPL,QQQ", "lookforward": 1, "target_col": "close"},
        features=("ret_5_QQQ", "rsi_14_AAPL"),
        hyperparameters={"alpha": score},
        folds={"scheme": "walk_forward", "embargo": 12, "folds": []},
        metrics={"score": "r2", "cv": {"r2": score, "rmse": 0.5, "r2_std": 0.01}, "folds": folds},
        fingerprint=uuid.uuid4().hex,
        cv_score=score,
        **fields,
    )
    return svc.registry.add(new, {"weights": [score]})


@pytest.fixture()
def registered(app_services: Services, monkeypatch: pytest.MonkeyPatch) -> dict[str, ModelRecord]:
    """A cohort of two siblings and a child of the best (three generations with its grandchild)."""
    cohort_id = uuid.uuid4().hex
    best = _add(app_services, 0.12, cohort_id=cohort_id)
    other = _add(app_services, 0.05, cohort_id=cohort_id)
    app_services.registry.set_cohort_ranks(cohort_id, {best.id: 1, other.id: 2})
    child = _add(app_services, 0.15, parent_model_id=best.id)
    grandchild = _add(app_services, 0.16, parent_model_id=child.id)
    settings = app_services.settings
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(settings.features_parquet_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("METADATA_DB_PATH", str(settings.metadata_db_path))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    return {"best": best, "other": other, "child": child, "grandchild": grandchild}


def _cli(*args: str) -> Any:
    res = CliRunner().invoke(cli_app, [*args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_cli_json_and_api_return_the_same_payloads(
    registered: dict[str, ModelRecord], make_app: Callable[..., Any]
) -> None:
    api = TestClient(make_app())
    best, child = registered["best"], registered["child"]
    cohort_id = best.cohort_id
    assert cohort_id is not None

    cohort = api.get(f"/cohorts/{cohort_id}").json()
    assert _cli("models", "cohort", cohort_id) == cohort
    assert [m["id"] for m in cohort["models"]] == [best.id, registered["other"].id]
    # registered without kept predictions: no statistics, and the note says why
    assert cohort["selection"]["n_tried"] == 0 and "kept its predictions" in cohort["selection"]["notes"][0]

    lineage = api.get(f"/models/{child.id}/lineage").json()
    assert _cli("models", "lineage", child.id) == lineage
    assert lineage["model"]["id"] == child.id and lineage["model"]["features"] == 2
    assert [a["id"] for a in lineage["ancestors"]] == [best.id]
    assert [d["id"] for d in lineage["descendants"]] == [registered["grandchild"].id]

    assert _cli("models", "show", child.id) == api.get(f"/models/{child.id}").json()
    listed = _cli("models", "list", "--sort", "cv_score", "--symbol", "aapl")
    page = api.get("/models", params={"sort": "cv_score", "symbol": "aapl", "limit": 20}).json()
    assert listed["total"] == page["total"] == 4 and listed["models"] == page["items"]
    assert _cli("symbols") == api.get("/symbols").json()


def test_cli_and_api_filter_by_tag_alike(
    registered: dict[str, ModelRecord], make_app: Callable[..., Any], app_services: Services
) -> None:
    api = TestClient(make_app())
    best, child, other = registered["best"], registered["child"], registered["other"]
    app_services.registry.set_notes(best.id, tags=["baseline", "paper:v2"])
    app_services.registry.set_notes(child.id, tags=["Baseline"])
    app_services.registry.set_notes(other.id, tags=["baseline2"], note="baseline")  # neither is the tag
    page = api.get("/models", params={"tag": "BASELINE", "sort": "cv_score", "limit": 20}).json()
    assert [m["id"] for m in page["items"]] == [child.id, best.id] and page["total"] == 2
    assert [m["tags"] for m in page["items"]] == [["Baseline"], ["baseline", "paper:v2"]]
    listed = _cli("models", "list", "--tag", "BASELINE", "--sort", "cv_score")
    assert listed["models"] == page["items"] and listed["total"] == 2
    assert api.get("/models", params={"tag": "paper:v2"}).json()["total"] == 1
    bad = api.get("/models", params={"tag": "two words"})
    assert bad.status_code == 422 and "tag" in bad.text
    res = CliRunner().invoke(cli_app, ["models", "list", "--tag", "two words", "--json"])
    assert res.exit_code != 0 and "invalid tag 'two words'" in str(res.exception) + res.output


def test_cli_and_api_refuse_an_unknown_cohort_alike(
    registered: dict[str, ModelRecord], make_app: Callable[..., Any]
) -> None:
    api = TestClient(make_app())
    for method in ("get", "delete"):
        res = api.request(method.upper(), "/cohorts/abc", headers={"X-Requested-With": "test"})
        assert res.status_code == 404 and "no cohort 'abc'" in res.text
    for command in ("cohort", "delete-cohort"):
        res = CliRunner().invoke(cli_app, ["models", command, "abc", "--json"])
        assert res.exit_code == 1 and "no cohort 'abc'" in str(res.exception)


def test_cli_and_api_delete_alike(registered: dict[str, ModelRecord], make_app: Callable[..., Any]) -> None:
    api = TestClient(make_app())
    grandchild, child = registered["grandchild"], registered["child"]
    assert _cli("models", "delete", grandchild.id) == {"deleted": [grandchild.id]}
    assert api.delete(f"/models/{child.id}", headers={"X-Requested-With": "test"}).json() == {"deleted": [child.id]}
    cohort_id = registered["best"].cohort_id
    assert _cli("models", "delete-cohort", str(cohort_id)) == {"cohort_id": cohort_id, "deleted": 2}
    assert api.get("/models").json() == {"total": 0, "items": []}


def test_tables_render_the_same_queries(registered: dict[str, ModelRecord]) -> None:
    def table(*args: str) -> str:
        res = CliRunner().invoke(cli_app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        return res.stdout

    best, other, child = registered["best"], registered["other"], registered["child"]
    cohort = table("models", "cohort", str(best.cohort_id))
    assert f"Cohort {best.cohort_id}" in cohort and "alpha" in cohort  # the hyperparameter that varies
    assert cohort.index(best.id[:12]) < cohort.index(other.id[:12])
    lineage = " ".join(table("models", "lineage", child.id).split())
    order = [child.id, f"parent {best.id}", "descendants (1)", registered["grandchild"].id]
    assert [lineage.find(part) for part in order] == sorted(lineage.find(part) for part in order)
    assert -1 not in [lineage.find(part) for part in order]
    assert "Models 1-4 of 4" in table("models", "list")
    assert "Feature store" in table("symbols") and "AAPL" in table("symbols")
    assert table("models", "delete", other.id).strip() == f"deleted {other.id}"
