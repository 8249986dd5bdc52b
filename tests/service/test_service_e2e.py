"""End to end through real processes: search, models, cohort, lineage, predict, plots, deletes, restart, the worker."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import ServerProcess
from fastapi.testclient import TestClient

from walkforward.service import Services
from walkforward.service.jobs import WORKER_MODULE, worker_environment

SEARCH: dict[str, Any] = {
    "symbol": "AAPL,QQQ,VIX",
    "algorithm": "elasticnet_regression",
    "timeframe": "5m",
    "target_transform": "log_return",
    "embargo": 12,
    "search": "grid",
    "alpha_grid": [0.0001, 0.001],
    "l1_ratio_grid": [0.5],
    "save_all_grid_models": True,
    "explain": False,
}

StartServer = Callable[[dict[str, str]], ServerProcess]
ServerEnv = Callable[..., dict[str, str]]


def submit(server: ServerProcess, body: dict[str, Any]) -> str:
    response = server.client.post("/train", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["job_id"])


def test_search_to_deletion(
    database_url: str, server_env: ServerEnv, start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(server_env(database_url))
    c = server.client
    job = server.wait_job(submit(server, SEARCH))
    assert job["status"] == "done", job
    result = job["result"]
    assert result["grid_size"] == 2 and result["trained"] == 2 and len(result["model_ids"]) == 2
    assert job["progress_done"] == job["progress_total"] == 2
    assert any("0/2 already exist, training 2" in line for line in job["log"])
    cohort_id = result["cohort_id"]

    page = c.get("/models", params={"cohort_id": cohort_id, "sort": "cv_score", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    top = page["items"][0]
    assert top["id"] == result["best_model_id"] and "r2" in top["metrics"]
    second = c.get("/models", params={"cohort_id": cohort_id, "sort": "cv_score", "limit": 1, "offset": 1}).json()
    assert second["items"][0]["cv_score"] <= top["cv_score"]
    by_metric = c.get("/models", params={"sort": "metrics.r2", "descending": "false"})
    assert by_metric.status_code == 200 and by_metric.json()["total"] == 2

    detail = c.get(f"/models/{top['id']}").json()
    assert detail["folds"]["folds"] and detail["metrics"]["cv"] and detail["request"]["embargo"] == 12
    assert detail["feature_details"] is None  # explain=false

    cohort = c.get(f"/cohorts/{cohort_id}").json()
    assert [m["cohort_rank"] for m in cohort["models"]] == [1, 2]
    assert cohort["models"][0]["id"] == top["id"]
    assert cohort["selection"]["n_tried"] == 2 and cohort["selection"]["dsr"]["selected"] == 0  # from kept predictions

    no_plot = c.get(f"/models/{top['id']}/plots/importance.png")
    assert no_plot.status_code == 404 and "explain=true" in no_plot.json()["detail"]

    # a child trained with explanations, inheriting the best model's features
    child_job = server.wait_job(
        submit(
            server,
            {
                **{k: v for k, v in SEARCH.items() if not k.endswith("_grid") and k != "save_all_grid_models"},
                "search": "none",
                "hyperparameters": {"alpha": 0.001, "l1_ratio": 0.5},
                "parent_model_id": top["id"],
                "explain": True,
            },
        )
    )
    assert child_job["status"] == "done", child_job
    child = child_job["result"]["model_id"]
    lineage = c.get(f"/models/{child}/lineage").json()
    assert [a["id"] for a in lineage["ancestors"]] == [top["id"]]
    assert [d["id"] for d in c.get(f"/models/{top['id']}/lineage").json()["descendants"]] == [child]

    prediction = c.post(f"/models/{child}/predict", json={"limit": 5})
    assert prediction.status_code == 200, prediction.text
    rows = prediction.json()["predictions"]
    assert len(rows) == 5 and {"ts", "prediction", "predicted_price"} <= set(rows[0])
    assert prediction.json()["rows"] > 5

    png = c.get(f"/models/{child}/plots/importance.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    regimes = c.get(f"/models/{child}/plots/regimes.png")
    assert regimes.status_code in (200, 404)
    if regimes.status_code == 200:
        assert regimes.content[:4] == b"\x89PNG"

    jobs = c.get("/jobs").json()
    assert jobs["total"] == 2 and jobs["items"][0]["id"] == child_job["id"]

    models_dir = tmp_path / "models"
    cohort_files = {f"{m}.joblib" for m in result["model_ids"]}
    assert cohort_files <= {p.name for p in models_dir.iterdir()}
    assert c.delete(f"/cohorts/{cohort_id}", headers={"X-Requested-With": "test"}).json() == {
        "cohort_id": cohort_id,
        "deleted": 2,
    }
    assert not cohort_files & {p.name for p in models_dir.iterdir()}
    assert c.get(f"/models/{top['id']}").status_code == 404
    assert c.get(f"/cohorts/{cohort_id}").status_code == 404
    assert c.delete(f"/models/{child}", headers={"X-Requested-With": "test"}).json() == {"deleted": [child]}
    assert c.get("/models").json()["total"] == 0
    assert list(models_dir.glob("*.joblib")) == []


def test_a_job_killed_with_its_server_resumes_and_trains_only_what_is_missing(
    tmp_path: Path, server_env: ServerEnv, start_server: StartServer
) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'metadata.db'}")
    first = start_server(env)
    body = {
        "symbol": "AAPL,QQQ,VIX",
        "algorithm": "lightgbm_regressor",
        "timeframe": "5m",
        "target_transform": "log_return",
        "embargo": 12,
        "search": "grid",
        "use_default_grid": False,
        "num_leaves_grid": [7, 15, 31],
        "lgbm_learning_rate_grid": [0.03, 0.1],
        "min_data_in_leaf_grid": [20, 40],
        "save_all_grid_models": True,
        "explain": False,
    }
    job_id = submit(first, body)
    deadline = time.monotonic() + 240
    while True:
        job = first.client.get(f"/jobs/{job_id}").json()
        saved = first.client.get("/models", params={"algorithm": "lightgbm_regressor"}).json()["total"]
        if job["status"] == "running" and job["progress_done"] > 0 and saved > 0:
            break
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    first.kill_group()
    assert job["progress_total"] == 12 and job["progress_done"] < 12, "the job finished before the kill"

    second = start_server(env)
    dead = second.client.get(f"/jobs/{job_id}").json()
    assert dead["status"] == "interrupted", dead
    assert f"POST /jobs/{job_id}/resume" in dead["error"]
    before = second.client.get("/models", params={"algorithm": "lightgbm_regressor", "limit": 100}).json()["total"]
    assert 0 < before < 12

    resumed = second.client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["resumed_from"] == job_id
    done = second.wait_job(resumed.json()["job_id"])
    assert done["status"] == "done", done
    assert done["result"]["existing"] == before and done["result"]["trained"] == 12 - before
    assert f"{before}/12 already exist, training {12 - before}" in done["result"]["notes"][0]
    assert any(f"{before}/12 already exist" in line for line in done["log"])

    page = second.client.get("/models", params={"cohort_id": done["result"]["cohort_id"], "limit": 100}).json()
    fingerprints = [m["fingerprint"] for m in page["items"]]
    assert page["total"] == 12 and len(set(fingerprints)) == 12


def test_a_running_job_can_be_cancelled(tmp_path: Path, server_env: ServerEnv, start_server: StartServer) -> None:
    server = start_server(server_env(f"sqlite:///{tmp_path / 'metadata.db'}"))
    job_id = submit(
        server,
        {
            "symbol": "AAPL,QQQ,VIX",
            "algorithm": "lightgbm_regressor",
            "timeframe": "5m",
            "target_transform": "log_return",
            "embargo": 12,
            "search": "grid",
            "use_default_grid": False,
            "num_leaves_grid": [7, 15, 31, 63],
            "lgbm_learning_rate_grid": [0.03, 0.1],
            "lambda_l2_grid": [0.0, 1.0, 5.0],
            "save_all_grid_models": True,
            "explain": False,
        },
    )
    deadline = time.monotonic() + 120
    while (running := server.client.get(f"/jobs/{job_id}").json())["worker_pid"] is None:
        assert running["status"] in ("queued", "running") and time.monotonic() < deadline, running
        time.sleep(0.2)
    if Path("/proc/self").exists():  # the runner started the worker's own entry point, not the CLI
        cmdline = Path(f"/proc/{running['worker_pid']}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:4] == [b"-m", WORKER_MODULE.encode(), job_id.encode()], cmdline
    cancelled = server.client.post(f"/jobs/{job_id}/cancel", json={}).json()
    assert cancelled["status"] in ("cancelling", "cancelled", "done")
    final = server.wait_job(job_id, timeout=120)
    assert final["status"] == "cancelled", final
    assert final["error"].startswith("cancelled")


def test_the_worker_entry_point_runs_a_claimed_job_once(app_services: Services, make_app: Callable[..., Any]) -> None:
    client = TestClient(make_app())
    body = {k: v for k, v in SEARCH.items() if not k.endswith("_grid") and k != "save_all_grid_models"}
    queued = client.post("/train", json={**body, "search": "none", "hyperparameters": {"alpha": 0.001}})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    claimed = app_services.jobs.claim_next(host=socket.gethostname())
    assert claimed is not None and claimed.id == job_id

    command = [sys.executable, "-m", WORKER_MODULE, job_id]
    env = worker_environment(app_services.settings)
    worker = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert worker.returncode == 0, worker.stderr
    assert "RuntimeWarning" not in worker.stderr  # runpy did not find the worker module imported twice
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "done", job
    assert job["result"]["trained"] == 1 and client.get(f"/models/{job['result']['model_id']}").status_code == 200
    assert any("started the train job" in line for line in job["log"])

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 1 and "nothing to do" in again.stderr, again.stderr
    assert client.get(f"/jobs/{job_id}").json()["finished_at"] == job["finished_at"]
