"""Run management over HTTP and the CLI: tags and a note, verified downloads, an unknown parent refused at submit."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from walkforward.cli import app as cli_app
from walkforward.errors import InvalidInputError
from walkforward.registry import ModelRecord, NewModel
from walkforward.service import Services

SCRIPT = {"X-Requested-With": "test"}
PREDICTIONS = pd.DataFrame(
    {"ts": pd.date_range("2024-01-02", periods=5, freq="5min"), "fold": 1, "prediction": 0.1, "y": 0.2}
)


def _add(svc: Services, *, predictions: bool = True) -> ModelRecord:
    new = NewModel(
        symbol="AAPL",
        symbols=("AAPL",),
        algorithm="linear_regression",
        timeframe="5m",
        target_transform="log_return",
        request={"symbol": "AAPL", "lookforward": 1},
        features=("rsi_14",),
        hyperparameters={},
        folds={},
        metrics={"score": "r2", "cv": {"r2": 0.1}},
        fingerprint=uuid.uuid4().hex,
        cv_score=0.1,
    )
    return svc.registry.add(new, {"coef": [1.0, 2.0]}, predictions=PREDICTIONS if predictions else None)


@pytest.fixture()
def client(make_app: Callable[..., Any]) -> TestClient:
    return TestClient(make_app(), raise_server_exceptions=False)


def test_tags_and_a_note_round_trip_and_show_in_the_list(client: TestClient, app_services: Services) -> None:
    record, other = _add(app_services), _add(app_services)
    put = client.put(
        f"/models/{record.id}/notes", json={"tags": ["baseline", "v2"], "note": "first try"}, headers=SCRIPT
    )
    assert put.status_code == 200, put.text
    assert put.json()["tags"] == ["baseline", "v2"] and put.json()["note"] == "first try"
    assert client.get(f"/models/{record.id}/notes").json() == put.json()
    assert client.get(f"/models/{record.id}").json()["notes"]["tags"] == ["baseline", "v2"]
    rows = {m["id"]: m for m in client.get("/models").json()["items"]}
    assert rows[record.id]["tags"] == ["baseline", "v2"] and rows[other.id]["tags"] == []
    cleared = client.put(f"/models/{record.id}/notes", json={}, headers=SCRIPT)
    assert cleared.json()["tags"] == [] and cleared.json()["note"] == ""


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"tags": ["two words"]}, "tags.0"),
        ({"tags": [f"t{i}" for i in range(21)]}, "at most 20"),
        ({"note": "x" * 4001}, "at most 4000"),
        ({"note": "bell\x07"}, "control characters"),
        ({"tags": "baseline"}, "tags"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_notes_are_refused_with_a_422_naming_the_field(
    client: TestClient, app_services: Services, body: dict[str, Any], says: str
) -> None:
    record = _add(app_services)
    response = client.put(f"/models/{record.id}/notes", json=body, headers=SCRIPT)
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert client.get(f"/models/{record.id}/notes").json()["tags"] == []


def test_notes_of_an_unknown_model_are_404(client: TestClient) -> None:
    response = client.put("/models/0123abcd/notes", json={"tags": ["a"]}, headers=SCRIPT)
    assert response.status_code == 404 and "no model with id '0123abcd'" in response.json()["detail"]


def test_downloads_are_the_registered_bytes_or_refused(client: TestClient, app_services: Services) -> None:
    record = _add(app_services)
    artifact = client.get(f"/models/{record.id}/artifact")
    assert artifact.status_code == 200
    assert hashlib.sha256(artifact.content).hexdigest() == record.artifact_sha256
    assert artifact.headers["x-content-sha256"] == record.artifact_sha256
    assert f'filename="{record.id}.joblib"' in artifact.headers["content-disposition"]

    kept = record.derived["predictions"]
    parquet = client.get(f"/models/{record.id}/predictions?format=parquet")
    assert parquet.status_code == 200 and hashlib.sha256(parquet.content).hexdigest() == kept["sha256"]
    assert pd.read_parquet(io.BytesIO(parquet.content))["prediction"].tolist() == [0.1] * 5

    path = Path(record.artifact_path)
    path.write_bytes(path.read_bytes() + b"tampered")
    changed = client.get(f"/models/{record.id}/artifact")
    assert changed.status_code == 409 and "was changed or truncated" in changed.json()["detail"]
    path.unlink()
    missing = client.get(f"/models/{record.id}/artifact")
    assert missing.status_code == 404 and "is missing" in missing.json()["detail"]
    assert str(path.parent) not in missing.text  # paths are shown relative to MODELS_DIR

    old = _add(app_services, predictions=False)
    none_kept = client.get(f"/models/{old.id}/predictions?format=parquet")
    assert none_kept.status_code == 404 and "registered before out-of-sample predictions" in none_kept.text


def test_deleting_a_model_removes_its_files_and_notes(client: TestClient, app_services: Services) -> None:
    record = _add(app_services)
    client.put(f"/models/{record.id}/notes", json={"tags": ["gone"]}, headers=SCRIPT)
    files = [Path(record.artifact_path), app_services.registry.models_dir / record.derived["predictions"]["file"]]
    assert all(f.exists() for f in files)
    assert client.delete(f"/models/{record.id}", headers=SCRIPT).json() == {"deleted": [record.id]}
    assert not any(f.exists() for f in files)
    assert client.get(f"/models/{record.id}/notes").status_code == 404


def test_an_unknown_parent_is_refused_at_submit_and_no_job_is_queued(client: TestClient) -> None:
    body = {"symbol": "AAPL,QQQ,VIX", "algorithm": "linear_regression", "timeframe": "5m", "parent_model_id": "feed42"}
    response = client.post("/train", json=body, headers=SCRIPT)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "unknown parent_model_id feed42" in detail and "no parent" in detail
    assert client.get("/jobs").json()["total"] == 0


def test_the_cli_tags_a_model_through_the_same_store(app_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _add(app_services)
    settings = app_services.settings
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(settings.features_parquet_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("METADATA_DB_PATH", str(settings.metadata_db_path))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    runner = CliRunner()
    res = runner.invoke(cli_app, ["models", "tag", record.id, "--tag", "x", "--tag", "y", "--note", "n", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tags"] == ["x", "y"]
    res = runner.invoke(cli_app, ["models", "tag", record.id, "--note", "only the note changes", "--json"])
    assert json.loads(res.output)["tags"] == ["x", "y"]
    assert app_services.registry.notes(record.id).note == "only the note changes"
    res = runner.invoke(cli_app, ["models", "tag", record.id, "--tag", "bad tag"])
    # main() turns this error into one line and exit code 2; the runner calls the app under it.
    assert isinstance(res.exception, InvalidInputError) and "invalid tag 'bad tag'" in str(res.exception)
    assert app_services.registry.notes(record.id).tags == ("x", "y")
