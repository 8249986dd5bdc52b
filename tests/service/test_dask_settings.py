"""The Dask scheduler setting of the service: where search jobs run, and a scheduler that does not answer.

No cluster here (tests/service/test_dask_jobs.py runs real ones): an address nobody listens on is
refused at submit with 503 and one line, and a job whose scheduler went away after submit fails
with that line instead of a traceback.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.errors import InvalidInputError
from walkforward.model_selection.executors import (
    SchedulerUnreachableError,
    check_scheduler,
    make_executor,
    scheduler_endpoint,
)
from walkforward.service import Services, create_app
from walkforward.service.jobs import run_job, worker_environment

SEARCH: dict[str, Any] = {
    "symbol": "AAPL,QQQ,VIX",
    "algorithm": "elasticnet_regression",
    "timeframe": "5m",
    "target_transform": "log_return",
    "embargo": 12,
    "search": "grid",
    "alpha_grid": [0.001],
    "l1_ratio_grid": [0.5],
    "explain": False,
}


@pytest.fixture()
def dead_address() -> str:
    """A scheduler address on this machine that nobody listens on."""
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture()
def settings(service_store: Path, tmp_path: Path, dead_address: str) -> Settings:
    return Settings(
        features_parquet_dir=service_store,
        models_dir=tmp_path / "models",
        metadata_db_path=tmp_path / "metadata.db",
        walkforward_dask_scheduler=dead_address,
    )


@pytest.fixture()
def services(settings: Settings) -> Iterator[Services]:
    svc = Services.open(settings, run_jobs=False)
    yield svc
    svc.close()


def test_the_setting_is_read_from_its_variable_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALKFORWARD_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    assert Settings().walkforward_dask_scheduler == "tcp://10.0.0.5:8786"
    monkeypatch.setenv("WALKFORWARD_DASK_SCHEDULER", "  ")
    assert Settings().walkforward_dask_scheduler is None  # blank means local workers
    monkeypatch.delenv("WALKFORWARD_DASK_SCHEDULER")
    monkeypatch.setenv("DASK_SCHEDULER", "threads")  # Dask's own setting is not ours
    assert Settings().walkforward_dask_scheduler is None


@pytest.mark.parametrize(
    ("address", "endpoint"),
    [
        ("tcp://10.0.0.5:8786", ("10.0.0.5", 8786)),
        ("tls://sched.example:9000", ("sched.example", 9000)),
        ("127.0.0.1:8787", ("127.0.0.1", 8787)),
        ("tcp://sched", ("sched", 8786)),
        ("tcp://[::1]:8786", ("::1", 8786)),
        ("inproc://10.0.0.5/1/2", None),
    ],
)
def test_scheduler_addresses_are_parsed(address: str, endpoint: tuple[str, int] | None) -> None:
    assert scheduler_endpoint(address) == endpoint


@pytest.mark.parametrize("address", ["tcp://", "tcp://host:port", "tcp://host:8786/path"])
def test_malformed_scheduler_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid Dask scheduler address"):
        scheduler_endpoint(address)


def test_an_unreachable_scheduler_is_one_line_naming_the_address_and_the_fix(dead_address: str) -> None:
    with pytest.raises(SchedulerUnreachableError) as caught:
        check_scheduler(dead_address)
    message = str(caught.value)
    assert dead_address in message and "dask worker" in message and "WALKFORWARD_DASK_SCHEDULER" in message
    assert "\n" not in message
    with pytest.raises(SchedulerUnreachableError):  # the CLI's --executor dask checks the same way
        make_executor("dask", scheduler=dead_address)
    with socket.socket() as listening:  # something answering on the port passes the check
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_scheduler(f"tcp://127.0.0.1:{listening.getsockname()[1]}")


def test_a_search_is_refused_with_503_while_the_scheduler_does_not_answer(
    services: Services, settings: Settings, dead_address: str
) -> None:
    client = TestClient(create_app(settings, services=services), raise_server_exceptions=False)
    refused = client.post("/train", json=SEARCH)
    assert refused.status_code == 503, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"cannot reach the Dask scheduler at {dead_address}")
    assert "\n" not in detail and "Traceback" not in detail
    assert client.get("/jobs").json()["total"] == 0  # nothing was queued

    # a single training run does not use the cluster: it is queued
    single = {k: v for k, v in SEARCH.items() if not k.endswith("_grid")}
    queued = client.post("/train", json={**single, "search": "none", "hyperparameters": {"alpha": 0.001}})
    assert queued.status_code == 202, queued.text

    health = client.get("/health")
    assert health.status_code == 200  # the rest of the service works
    executor = health.json()["executor"]
    assert executor["name"] == "dask" and executor["scheduler"] == dead_address and executor["ok"] is False
    assert dead_address in executor["error"]


def test_health_reports_local_workers_without_a_scheduler(make_app: Callable[..., Any]) -> None:
    assert TestClient(make_app()).get("/health").json()["executor"]["name"] == "local"


def test_the_job_worker_gets_the_scheduler_from_the_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, dead_address: str
) -> None:
    monkeypatch.setenv("WALKFORWARD_DASK_SCHEDULER", "tcp://elsewhere:1")
    assert worker_environment(settings)["WALKFORWARD_DASK_SCHEDULER"] == dead_address
    local = settings.model_copy(update={"walkforward_dask_scheduler": None})
    assert "WALKFORWARD_DASK_SCHEDULER" not in worker_environment(local)


def test_a_search_whose_scheduler_went_away_after_submit_fails_with_one_line(
    services: Services, settings: Settings, dead_address: str
) -> None:
    from walkforward.request import SearchRequest, parse

    # queued while the scheduler answered (the submit check passed), then it stopped
    job = services.jobs.create("search", parse(SearchRequest, SEARCH).model_dump(mode="json"))
    claimed = services.jobs.claim_next(host=socket.gethostname())
    assert claimed is not None and claimed.id == job.id
    assert run_job(job.id, settings) == 0
    failed = services.jobs.get(job.id)
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.startswith(f"cannot reach the Dask scheduler at {dead_address}")
    assert not any("Traceback" in line for line in failed.log)
    assert services.registry.list(limit=1)[1] == 0
