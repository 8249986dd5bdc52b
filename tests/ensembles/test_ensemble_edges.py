"""The ensemble command and POST /ensembles call the same function: results, reuse and 4xx refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ensemblekit import Trained, copy_models
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.registry import ModelStore
from walkforward.service import Services, create_app


@pytest.fixture()
def home(trained: Trained, tmp_path: Path) -> Path:
    """A SQLite registry with copies of the trained models, on the trained feature store."""
    source = ModelStore.open(trained.registry_url, trained.models_dir)
    target = ModelStore.open(f"sqlite:///{tmp_path / 'metadata.db'}", tmp_path / "models")
    try:
        copy_models(source, target, [*trained.cohort_ids, *trained.classifier_ids, trained.other_symbol_id])
    finally:
        source.dispose()
        target.dispose()
    return tmp_path


def _cli(home: Path, trained: Trained, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(trained.store.root),
        "MODELS_DIR": str(home / "models"),
        "METADATA_DB_PATH": str(home / "metadata.db"),
    }
    env.pop("METADATA_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "walkforward", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_builds_then_reuses_and_refuses_in_one_line(home: Path, trained: Trained) -> None:
    args = ["ensemble", "--from-cohort", trained.cohort_id, "--top", "2", "--method", "stacking"]
    first = _cli(home, trained, *args, "--json")
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    assert not built["reused"] and built["method"] == "stacking" and len(built["members"]) == 2
    assert built["folds"][0]["basis"].startswith("equal weights") and "LinearRegression" in built["folds"][1]["basis"]
    table = _cli(home, trained, *args)
    assert table.returncode == 0, table.stderr
    assert f"already registered ensemble {built['model']['id']}" in " ".join(table.stdout.split())
    lineage = json.loads(_cli(home, trained, "models", "lineage", built["model"]["id"], "--json").stdout)
    assert sorted(m["id"] for m in lineage["members"]) == sorted(trained.cohort_ids)
    tree = _cli(home, trained, "models", "lineage", built["model"]["id"])
    assert tree.returncode == 0 and "ensemble members (6)" in tree.stdout, tree.stderr
    member = built["members"][0]  # a member's lineage lists the ensemble built on it
    used = json.loads(_cli(home, trained, "models", "lineage", member, "--json").stdout)["used_in_ensembles"]
    assert [(e["id"], e["final_member"]) for e in used] == [(built["model"]["id"], True)]
    tree = _cli(home, trained, "models", "lineage", member)
    assert "used in ensembles (1)" in tree.stdout and f"{built['model']['id']} ensemble stacking (final" in tree.stdout
    shown = _cli(home, trained, "models", "show", built["model"]["id"])
    assert shown.returncode == 0 and "ensemble" in shown.stdout, shown.stderr
    explained = _cli(home, trained, "models", "explain", built["model"]["id"])
    assert explained.returncode == 2 and "is an ensemble: explain its members" in " ".join(explained.stderr.split())
    predicted = _cli(home, trained, "predict", built["model"]["id"], "--json", "--tail", "3")
    assert predicted.returncode == 0, predicted.stderr
    assert len(json.loads(predicted.stdout)["predictions"]) == 3
    refused = _cli(home, trained, "ensemble", "--from-cohort", trained.cohort_id, "--top", "9")
    assert refused.returncode == 2 and "top=9 is more than the 6 model(s)" in " ".join(refused.stderr.split())
    assert "Traceback" not in refused.stderr


@pytest.fixture()
def client(home: Path, trained: Trained) -> Iterator[TestClient]:
    settings = Settings(
        features_parquet_dir=trained.store.root, models_dir=home / "models", metadata_db_path=home / "metadata.db"
    )
    svc = Services.open(settings, run_jobs=False)
    try:
        with TestClient(create_app(settings, services=svc)) as c:
            yield c
    finally:
        svc.close()


@pytest.mark.slow
def test_post_ensembles(client: TestClient, trained: Trained) -> None:
    body = {"models": trained.cohort_ids[:4], "method": "average", "top": 2}
    res = client.post("/ensembles", json=body)
    assert res.status_code == 200, res.text
    model_id = res.json()["model"]["id"]
    again = client.post("/ensembles", json=body).json()
    assert again["reused"] and again["model"]["id"] == model_id
    assert sorted(m["id"] for m in client.get(f"/models/{model_id}/lineage").json()["members"]) == sorted(
        trained.cohort_ids[:4]
    )
    chosen = set(res.json()["members"])
    for candidate in trained.cohort_ids[:5]:  # the fifth was not a candidate
        used = client.get(f"/models/{candidate}/lineage").json()["used_in_ensembles"]
        want = [(model_id, candidate in chosen)] if candidate in trained.cohort_ids[:4] else []
        assert [(e["id"], e["final_member"]) for e in used] == want
    predicted = client.post(f"/models/{model_id}/predict", json={"limit": 5})
    assert predicted.status_code == 200 and len(predicted.json()["predictions"]) == 5
    # Retraining an ensemble would refit its members' shared request as one model: refused, with the way.
    for path, body in [(f"/models/{model_id}/retrain", {}), (f"/models/{model_id}/retrain/simulate", {"every": 2})]:
        refused = client.post(path, json=body)
        assert refused.status_code == 422 and "is an ensemble: retrain its members" in refused.json()["detail"], path
    shown = client.get(f"/models/{model_id}").json()
    assert shown["algorithm"] == "ensemble" and shown["request"]["ensemble"]["models"] == sorted(
        trained.cohort_ids[:4], key=lambda i: client.get(f"/models/{i}").json()["fingerprint"]
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"models": ["a"]}, 422, "models"),
        ({"from_cohort": "c", "models": ["a", "b"]}, 422, "not both or neither"),
        ({"from_cohort": "c", "method": "median"}, 422, "method"),
        ({"from_cohort": "nope"}, 404, "no cohort 'nope'"),
        ({"models": ["nope", "nada"]}, 404, "no model with id 'nope'"),
    ],
)
def test_post_ensembles_refuses_bad_input(client: TestClient, body: dict, status: int, message: str) -> None:
    res = client.post("/ensembles", json=body)
    assert res.status_code == status, res.text
    assert message in res.json()["detail"]


def test_post_ensembles_refuses_mismatched_members(client: TestClient, trained: Trained) -> None:
    res = client.post("/ensembles", json={"models": [trained.cohort_ids[0], trained.other_symbol_id]})
    assert res.status_code == 422 and "differ in symbol" in res.json()["detail"]
    res = client.post("/ensembles", json={"from_cohort": trained.cohort_id, "top": 7})
    assert res.status_code == 422 and "top=7 is more than the 6" in res.json()["detail"]
