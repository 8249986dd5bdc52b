"""Search jobs of the API on a real Dask cluster: a scheduler and a worker process, a server process.

The server runs with ``WALKFORWARD_DASK_SCHEDULER``; the evidence that tasks ran on the cluster
comes from the cluster itself (the scheduler's task stream names the worker that ran each task).
A worker killed mid-search ends the job failed in one line, with the models finished so far saved
(each with its artifact) and a resume that trains only what is missing; a cancel ends the job
cancelled and leaves no task of it on the cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerProcess, free_port

import walkforward

SEARCH: dict[str, Any] = {
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


class Cluster:
    """``dask scheduler`` and ``dask worker --nthreads 1 --nworkers 1`` processes, and a client to look at them.

    The processes start in the background; :meth:`wait_for_worker` waits for the worker.
    """

    def __init__(self, log_dir: Path) -> None:
        port, dash = free_port(), free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        bindir = Path(sys.executable).parent  # the venv's dask, in a fresh clone's venv too
        env = dict(os.environ)
        src = str(Path(walkforward.__file__).resolve().parents[1])  # workers unpickle this checkout's tasks
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        self.procs = [
            subprocess.Popen(
                [str(bindir / "dask"), *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(log_dir / f"dask-{args[0]}.log").open("wb"),
                start_new_session=True,
            )
            for args in (
                ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", f"127.0.0.1:{dash}"],
                # --preload: the worker imports the search's tasks while it starts, not in its first task
                [
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--preload",
                    "walkforward.search.tasks",
                ],
            )
        ]
        self._client: Any = None  # made on first use: the server starts while the cluster does

    @property
    def client(self) -> Any:
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout="30s")
        return self._client

    def wait_for_worker(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not (workers := self.client.scheduler_info()["workers"]):
            assert time.monotonic() < deadline, "the dask worker did not start"
            time.sleep(0.2)
        return str(next(iter(workers)))

    def search_tasks(self) -> list[str]:
        """Keys of the search's tasks the scheduler still holds."""
        keys = self.client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
        return [k for k in keys if "evaluate_chunk" in k]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        for proc in reversed(self.procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dask-server")


@pytest.fixture(scope="module")
def server(cluster: Cluster, service_store: Path, server_dir: Path) -> Iterator[ServerProcess]:
    """One server for the module (a start costs seconds): tests compare the models before and after."""
    env = {k: v for k, v in os.environ.items() if k not in ("METADATA_DB_PATH", "API_TOKEN")}
    env.update(
        FEATURES_PARQUET_DIR=str(service_store),
        MODELS_DIR=str(server_dir / "models"),
        METADATA_DB_URL=f"sqlite:///{server_dir / 'metadata.db'}",
        LOG_LEVEL="INFO",
        WALKFORWARD_DASK_SCHEDULER=cluster.address,
    )
    running = ServerProcess(env, server_dir / "server.log").start()
    yield running
    running.stop()
    running.client.close()


@pytest.fixture(autouse=True)
def worker_up(cluster: Cluster) -> None:
    cluster.wait_for_worker()  # a worker killed by an earlier test is back (its nanny restarts it)


def submit(server: ServerProcess, body: dict[str, Any]) -> str:
    response = server.client.post("/train", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def model_ids(server: ServerProcess) -> set[str]:
    page = server.client.get("/models", params={"limit": 200}).json()
    return {m["id"] for m in page["items"]}


def artifacts(server_dir: Path) -> set[str]:
    return {p.stem for p in (server_dir / "models").glob("*.joblib")}


def test_a_search_job_runs_its_tasks_on_the_dask_cluster(cluster: Cluster, server: ServerProcess) -> None:
    from distributed import get_task_stream

    health = server.client.get("/health").json()["executor"]
    assert health == {"name": "dask", "where": f"dask {cluster.address}", "scheduler": cluster.address, "ok": True}
    worker = cluster.wait_for_worker()
    small = {"num_leaves_grid": [7, 15], "min_data_in_leaf_grid": [20], "hyperparameters": {"n_estimators": 50}}
    body = {**SEARCH, **small}
    with get_task_stream(client=cluster.client) as stream:
        job = server.wait_job(submit(server, body), timeout=120)
    assert job["status"] == "done", job
    assert job["result"]["executor"] == f"dask {cluster.address}"
    assert f"executor: dask {cluster.address}" in "\n".join(job["log"])
    assert job["result"]["trained"] == 4 and len(job["result"]["model_ids"]) == 4

    # the cluster's own record: the search's tasks ran, all on its worker
    tasks = [t for t in stream.data if "evaluate_chunk" in str(t["key"])]
    assert tasks and {t["worker"] for t in tasks} == {worker}
    assert all(t["status"] == "OK" for t in tasks)
    best = server.client.get(f"/models/{job['result']['best_model_id']}").json()
    assert best["hyperparameters"]["n_jobs"] == 1  # one LightGBM thread per task, as the worker has one thread


def test_a_killed_dask_worker_fails_the_job_cleanly_and_resume_trains_what_is_missing(
    cluster: Cluster, server: ServerProcess, server_dir: Path
) -> None:
    before = model_ids(server)
    # one worker thread: the 8 combinations go out as 2 tasks, so the kill lands while the second runs
    job_id = submit(server, {**SEARCH, "num_leaves_grid": [7, 15], "hyperparameters": {"n_estimators": 300}})
    deadline = time.monotonic() + 120
    while True:
        job = server.client.get(f"/jobs/{job_id}").json()
        if job["status"] == "running" and model_ids(server) - before and cluster.search_tasks():
            break
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    (pid,) = cluster.client.run(os.getpid).values()
    os.kill(pid, signal.SIGKILL)

    failed = server.wait_job(job_id, timeout=120)
    assert failed["status"] == "failed", failed
    error = failed["error"]
    assert "Dask" in error and f"POST /jobs/{job_id}/resume" in error and "only what is missing" in error
    assert "\n" not in error and not any("Traceback" in line for line in failed["log"])

    # what finished is saved, each model with its artifact, and nothing else
    saved = model_ids(server) - before
    assert 0 < len(saved) < 8, "the job finished before the kill"
    assert artifacts(server_dir) == model_ids(server)
    assert not cluster.search_tasks()

    cluster.wait_for_worker()
    resumed = server.client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 202, resumed.text
    done = server.wait_job(resumed.json()["job_id"], timeout=120)
    assert done["status"] == "done", done
    assert done["result"]["existing"] == len(saved) and done["result"]["trained"] == 8 - len(saved)
    assert artifacts(server_dir) == model_ids(server)


def test_cancelling_a_dask_job_cancels_its_tasks_on_the_cluster(cluster: Cluster, server: ServerProcess) -> None:
    before = model_ids(server)
    body = {**SEARCH, "hyperparameters": {"n_estimators": 800}, "save_all_grid_models": False}
    job_id = submit(server, body)
    deadline = time.monotonic() + 120
    while not cluster.search_tasks():
        job = server.client.get(f"/jobs/{job_id}").json()
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.1)
    assert server.client.post(f"/jobs/{job_id}/cancel", json={}).json()["status"] == "cancelling"
    final = server.wait_job(job_id, timeout=60)
    assert final["status"] == "cancelled", final
    assert final["error"] == "cancelled on request"  # the worker stopped by itself: it was not killed
    assert any("cancelling" in line and "task(s) on the Dask cluster" in line for line in final["log"]), final["log"]
    deadline = time.monotonic() + 30
    while cluster.search_tasks():  # the scheduler forgets the job's tasks
        assert time.monotonic() < deadline, cluster.search_tasks()
        time.sleep(0.2)
    assert model_ids(server) == before
