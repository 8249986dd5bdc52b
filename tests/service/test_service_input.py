"""Bad input is refused at submit with a 4xx that says what is wrong; the token guards every route but /health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from walkforward.models.catalog import get_algorithm, grid_names
from walkforward.request import SearchRequest, parse

BASE: dict[str, Any] = {
    "symbol": "AAPL,QQQ,VIX",
    "algorithm": "elasticnet_regression",
    "timeframe": "5m",
    "target_transform": "log_return",
    "embargo": 12,
}


@pytest.fixture()
def client(make_app: Callable[..., Any]) -> TestClient:
    return TestClient(make_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(("name", "algorithms"), sorted(grid_names().items()))
def test_every_reference_grid_parameter_is_accepted_as_a_body_field(name: str, algorithms: tuple[str, ...]) -> None:
    spec = get_algorithm(algorithms[0])
    values = list(spec.grid[spec.grid_names[name]][:2])
    body = {**BASE, "algorithm": spec.name, "search": "grid", name: values}
    req = parse(SearchRequest, body)  # the body model of POST /train
    assert req.grids == {name: values}
    assert req.grid()[spec.grid_names[name]] == values


# The refusals every entry point shares are one table, checked through the library, the CLI and the
# API in tests/test_refusals.py; these are the body forms only the API has.
@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"search": "grid", "alpha_grid": "0.1"}, 422, "invalid grids.alpha_grid='0.1': Input should be a valid list"),
        ({"search": "grid", "grids": {"alpha_grid": "0.1"}}, 422, "grids.alpha_grid"),
        ({"search": "grid", "alpha_grid": [0.1], "grids": {"alpha_grid": [0.2]}}, 422, "given both"),
        ({"unknown_field": 1}, 422, "invalid unknown_field=1: Extra inputs are not permitted"),
        ({"symbol": None}, 422, "invalid symbol=None"),
    ],
)
def test_malformed_bodies_are_refused_with_a_message(
    client: TestClient, changes: dict[str, Any], status: int, says: str
) -> None:
    response = client.post("/train", json={**BASE, **changes})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert says in detail
    assert "Traceback" not in detail
    assert client.get("/jobs").json()["total"] == 0  # nothing was queued


def test_oversized_body_is_refused_before_parsing(client: TestClient) -> None:
    body = {**BASE, "feature_whitelist": ["x" * 100] * 800}
    response = client.post("/train", json=body)
    assert response.status_code == 413
    assert "64 KiB" in response.json()["detail"]


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post("/train", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_a_valid_request_is_queued_and_can_be_cancelled_once(client: TestClient) -> None:
    submitted = client.post("/train", json={**BASE, "search": "grid", "alpha_grid": [0.001], "l1_ratio_grid": [0.5]})
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    assert submitted.json()["status"] == "queued"
    job = client.get(f"/jobs/{job_id}").json()
    assert job["request"]["grids"] == {"alpha_grid": [0.001], "l1_ratio_grid": [0.5]}
    resumed = client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 409 and "only interrupted" in resumed.json()["detail"]
    assert client.post(f"/jobs/{job_id}/cancel", json={}).json()["status"] == "cancelled"
    again = client.post(f"/jobs/{job_id}/cancel", json={})
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    # a cancelled job can be resumed: a new queued job with the same request
    resumed = client.post(f"/jobs/{job_id}/resume", json={})
    assert resumed.status_code == 202 and resumed.json()["resumed_from"] == job_id
    page = client.get("/jobs", params={"status": "queued"}).json()
    assert [j["id"] for j in page["items"]] == [resumed.json()["job_id"]]


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("get", "/models/0123abcd", 404, "no model with id '0123abcd'"),
        ("delete", "/models/0123abcd", 404, "no model"),
        ("get", "/models/0123abcd/lineage", 404, "no model"),
        ("get", "/models/0123abcd/plots/importance.png", 404, "no model"),
        ("get", "/cohorts/abc", 404, "no cohort 'abc'"),
        ("delete", "/cohorts/abc", 404, "no cohort 'abc'"),
        ("get", "/jobs/abc", 404, "no job with id 'abc'"),
        ("post", "/jobs/abc/cancel", 404, "no job"),
        ("get", "/models?sort=bogus", 422, "unknown sort 'bogus'"),
        ("get", "/models?symbol=../etc", 422, "symbol"),
        ("get", "/models?limit=0", 422, "limit"),
        ("get", "/jobs?status=sleeping", 422, "status"),
    ],
)
def test_lookups_of_missing_things_say_what_is_missing(
    client: TestClient, method: str, path: str, status: int, says: str
) -> None:
    headers = {"X-Requested-With": "test"} if method != "get" else {}
    response = client.request(method.upper(), path, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


def test_empty_lists_and_health(client: TestClient) -> None:
    assert client.get("/models").json() == {"total": 0, "items": []}
    assert {s["symbol"] for s in client.get("/symbols").json()} == {"AAPL", "QQQ", "VIX"}
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"] == {"backend": "sqlite", "ok": True}


def test_token_guards_everything_but_health(make_app: Callable[..., Any]) -> None:
    client = TestClient(make_app(api_token="s3cret"), raise_server_exceptions=False)
    assert client.get("/health").status_code == 200
    missing = client.get("/models")
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/models", headers={"Authorization": "Basic s3cret"}).status_code == 401
    assert client.get("/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/train", json=BASE).status_code == 401
    assert client.get("/symbols", headers={"Authorization": "Bearer s3cret"}).status_code == 200
