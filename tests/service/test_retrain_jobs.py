"""POST /models/{id}/retrain and /retrain/simulate through the job system: 202 with the job, the child and
its lineage in the job's result, a second retrain that trains nothing, the simulation's report, refusals
at submit (no job row), cancel and resume, and a retrain killed with its server (SIGKILL, real processes)."""

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

from walkforward.service import Services, create_app
from walkforward.service.jobs import WORKER_MODULE, worker_environment

TRAIN: dict[str, Any] = {
    "symbol": "AAPL,QQQ,VIX",
    "algorithm": "elasticnet_regression",
    "timeframe": "5m",
    "target_transform": "log_return",
    "embargo": 12,
    "search": "none",
    "hyperparameters": {"alpha": 0.001, "l1_ratio": 0.5},
    "explain": False,
}


def _claim(svc: Services) -> str:
    """Claim the oldest queued job, as the runner would (the job is ``running``)."""
    claimed = svc.jobs.claim_next(host=socket.gethostname())
    assert claimed is not None
    return claimed.id


def _run(svc: Services, job_id: str) -> None:
    """Run a claimed job in a worker process, as the runner starts it."""
    command = [sys.executable, "-m", WORKER_MODULE, job_id]
    worker = subprocess.run(command, env=worker_environment(svc.settings), capture_output=True, text=True, timeout=240)
    assert worker.returncode == 0, worker.stderr


def _run_claimed(svc: Services) -> str:
    """Claim the oldest queued job and run it; return its id."""
    job_id = _claim(svc)
    _run(svc, job_id)
    return job_id


StartServer = Callable[[dict[str, str]], ServerProcess]
ServerEnv = Callable[..., dict[str, str]]


def _retrain(server: ServerProcess, model_id: str, algorithm: str = "elasticnet_regression") -> str:
    """POST a retrain; check the 202, its Location and the job's entry in the list; return the job id."""
    res = server.client.post(f"/models/{model_id}/retrain", json={})
    assert res.status_code == 202, res.text
    job_id = str(res.json()["job_id"])
    assert res.json()["status"] == "queued"
    assert res.headers["location"] == f"/jobs/{job_id}"
    listed = {j["id"]: j for j in server.client.get("/jobs").json()["items"]}
    assert listed[job_id]["kind"] == "retrain"
    assert listed[job_id]["trains"].startswith(f"retrain of {model_id[:8]} · {algorithm}")
    return job_id


def test_retrain_runs_as_a_job_and_a_second_one_trains_nothing(
    database_url: str, server_env: ServerEnv, start_server: StartServer
) -> None:
    server = start_server(server_env(database_url))
    c = server.client
    trained = c.post("/train", json=TRAIN)
    assert trained.status_code == 202, trained.text
    parent = server.wait_job(trained.json()["job_id"])["result"]["model_id"]

    job = server.wait_job(_retrain(server, parent))
    assert job["status"] == "done", job
    result = job["result"]
    child = result["model_id"]
    assert child != parent and result["model_ids"] == [child] and result["trained"] is True
    assert result["retrained_from"] == parent == result["parent_model_id"]
    assert result["message"].startswith(f"retrained {parent} as {child} on all up to ")
    assert result["rows_used"] == result["retrain"]["rows_used"] > 0
    assert any(line.startswith("done: retrained") for line in job["log"])
    assert job["request"]["model_id"] == parent
    shown = c.get(f"/models/{child}").json()
    assert shown["parent_model_id"] == parent and shown["derived"]["retrained_from"] == parent
    assert [m["id"] for m in c.get(f"/models/{child}/lineage").json()["ancestors"]] == [parent]
    assert child in [m["id"] for m in c.get(f"/models/{parent}/lineage").json()["descendants"]]

    # no new data since: the job ends with the same child and nothing is trained
    again = server.wait_job(_retrain(server, parent))
    assert again["status"] == "done", again
    assert again["result"]["model_id"] == child and again["result"]["trained"] is False
    assert again["result"]["message"].startswith("no new data since ") and child in again["result"]["message"]
    assert c.get("/models").json()["total"] == 2
    # a done retrain is not resumed (as any done job)
    refused = c.post(f"/jobs/{again['id']}/resume", json={})
    assert refused.status_code == 409 and "is done" in refused.json()["detail"]

    # the schedule simulation is a job too; it registers nothing
    sim = c.post(f"/models/{parent}/retrain/simulate", json={"every": 4, "initial_days": 12})
    assert sim.status_code == 202 and sim.headers["location"] == f"/jobs/{sim.json()['job_id']}", sim.text
    simulated = server.wait_job(sim.json()["job_id"])
    assert simulated["status"] == "done" and simulated["kind"] == "retrain_schedule", simulated
    assert simulated["trains"].startswith(f"retraining schedule of {parent[:8]} every 4")
    report = simulated["result"]
    assert report["model_id"] == parent and report["every"] == 4 and report["initial_days"] == 12
    assert {"frozen", "retrained", "difference", "daily"} <= set(report) and report["model_ids"] == []
    assert simulated["progress_done"] == simulated["progress_total"] == len(report["refits"]) > 0
    assert report["message"].startswith(f"{len(report['refits'])} refit(s) every 4 session(s) after 12")
    # what needs the data to refuse fails as the job, in the same line the synchronous call said
    no_window = server.wait_job(c.post(f"/models/{parent}/retrain/simulate", json={"every": 4}).json()["job_id"])
    assert no_window["status"] == "failed" and "pass initial_days" in no_window["error"], no_window
    assert c.get("/models").json()["total"] == 2

    # refused at submit, and no job row is made
    jobs_before = c.get("/jobs").json()["total"]
    missing = c.post("/models/nope/retrain", json={})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    extra = c.post(f"/models/{parent}/retrain", json={"every": 3})
    assert extra.status_code == 422
    assert c.post("/models/nope/retrain/simulate", json={"every": 4}).status_code == 404
    warm = c.post(f"/models/{parent}/retrain/simulate", json={"every": 4, "initial_days": 12, "warm_start": True})
    assert warm.status_code == 422 and "warm start is for boosters" in warm.json()["detail"]
    assert c.get("/jobs").json()["total"] == jobs_before


def test_a_cancelled_retrain_resumes_and_its_worker_finishes_it(
    app_services: Services, make_app: Callable[..., Any], tmp_path: Path
) -> None:
    """Without a runner jobs stay queued: cancel one at once, resume it, cancel that one while it runs,
    resume it again and let its worker finish."""
    client = TestClient(make_app())
    trained = client.post("/train", json=TRAIN)
    assert trained.status_code == 202, trained.text
    parent = client.get(f"/jobs/{_run_claimed(app_services)}").json()["result"]["model_id"]

    queued = client.post(f"/models/{parent}/retrain", json={})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    twice = client.post(f"/models/{parent}/retrain", json={})  # two would race to register one child
    assert twice.status_code == 409 and f"already queued (job {job_id})" in twice.json()["detail"], twice.text
    cancelled = client.post(f"/jobs/{job_id}/cancel", json={}).json()
    assert cancelled["status"] == "cancelled" and cancelled["kind"] == "retrain"
    resumed = client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 202, resumed.text
    new_id = resumed.json()["job_id"]
    assert resumed.json()["resumed_from"] == job_id
    shown = client.get(f"/jobs/{new_id}").json()
    assert shown["kind"] == "retrain" and shown["request"]["model_id"] == parent

    # cancelled while running: the worker stops at its first progress report, before any child is registered
    assert _claim(app_services) == new_id
    assert client.post(f"/jobs/{new_id}/cancel", json={}).json()["status"] == "cancelling"
    _run(app_services, new_id)
    stopped = client.get(f"/jobs/{new_id}").json()
    assert stopped["status"] == "cancelled" and stopped["error"] == "cancelled on request", stopped
    assert client.get("/models").json()["total"] == 1
    again = client.post(f"/jobs/{new_id}/resume", json={})
    assert again.status_code == 202 and again.json()["resumed_from"] == new_id, again.text
    new_id = again.json()["job_id"]

    assert _run_claimed(app_services) == new_id
    done = client.get(f"/jobs/{new_id}").json()
    assert done["status"] == "done", done
    assert client.get("/models").json()["total"] == 2
    assert done["result"]["trained"] and done["result"]["retrained_from"] == parent
    assert client.get(f"/models/{done['result']['model_id']}").json()["parent_model_id"] == parent
    assert any("started the retrain job" in line for line in done["log"])

    # the model's data is gone from the feature store: refused at submit, no job made
    empty = app_services.settings.model_copy(update={"features_parquet_dir": tmp_path / "empty"})
    gone = Services.open(empty, run_jobs=False)
    try:
        jobs_before = gone.jobs.list()[1]
        refused = TestClient(create_app(empty, services=gone)).post(f"/models/{parent}/retrain", json={})
        assert refused.status_code == 422 and "unknown symbol(s) AAPL" in refused.json()["detail"], refused.text
        assert gone.jobs.list()[1] == jobs_before
    finally:
        gone.close()


def test_a_retrain_killed_with_its_server_leaves_no_child_and_resumes(
    tmp_path: Path, server_env: ServerEnv, start_server: StartServer
) -> None:
    """SIGKILL the server and its worker mid-retrain: after a restart the job is interrupted, nothing
    half-written is left (no child row, no artifact or temporary file beyond the parent's), and its
    resume registers the child."""
    env = server_env(f"sqlite:///{tmp_path / 'metadata.db'}")
    first = start_server(env)
    # 600 trees: a retrain of ~10 s here, killed about a second after its worker started
    slow = {**TRAIN, "algorithm": "random_forest_regressor", "hyperparameters": {"n_estimators": 600}}
    parent = first.wait_job(first.client.post("/train", json=slow).json()["job_id"])["result"]["model_id"]
    models_dir = Path(env["MODELS_DIR"])
    before = sorted(p.name for p in models_dir.rglob("*") if p.is_file())

    job_id = _retrain(first, parent, slow["algorithm"])
    deadline = time.monotonic() + 120
    while (job := first.client.get(f"/jobs/{job_id}").json())["worker_pid"] is None:
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.1)
    time.sleep(1.0)  # the worker has imported its stack and is fitting
    first.kill_group()
    second = start_server(env)
    dead = second.client.get(f"/jobs/{job_id}").json()
    assert dead["status"] == "interrupted", f"the retrain ended before the kill: {dead}"
    assert f"POST /jobs/{job_id}/resume" in dead["error"]
    assert second.client.get("/models").json()["total"] == 1
    assert sorted(p.name for p in models_dir.rglob("*") if p.is_file()) == before  # the start-up sweep included

    resumed = second.client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 202, resumed.text
    done = second.wait_job(resumed.json()["job_id"])
    assert done["status"] == "done" and done["result"]["retrained_from"] == parent, done
    child = done["result"]["model_id"]
    assert second.client.get("/models").json()["total"] == 2
    assert second.client.get(f"/models/{child}").json()["parent_model_id"] == parent
