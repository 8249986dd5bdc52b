"""The API's security edges, over HTTP (in-process): the docs behind the token, no state change from a
cross-site form, no absolute server path in an error, and a full disk answered with one line (507).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.features.store import FeatureStore
from walkforward.request import TrainRequest
from walkforward.service import Services, create_app
from walkforward.training import train

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCRIPT = {"X-Requested-With": "walkforward"}
BODY = {"symbol": "AAPL,QQQ,VIX", "algorithm": "elasticnet_regression", "timeframe": "15m"}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_docs_and_the_schema_need_the_token_when_one_is_set(make_app: Callable[..., Any], path: str) -> None:
    with TestClient(make_app(TOKEN)) as client:
        refused = client.get(path)
        assert refused.status_code == 401
        assert refused.json()["detail"].startswith("missing or wrong API token")
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers=AUTH).status_code == 200
        assert client.get("/health").status_code == 200  # the one open route
    with TestClient(make_app(None)) as client:
        assert client.get(path).status_code == 200  # no token set: open, as before


def test_the_schema_behind_the_token_still_describes_the_api(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app(TOKEN)) as client:
        schema = client.get("/openapi.json", headers=AUTH).json()
        assert {"/train", "/jobs/{job_id}/cancel", "/models"} <= set(schema["paths"])
        assert not {"/docs", "/redoc", "/openapi.json"} & set(schema["paths"])
        page = client.get("/docs", headers=AUTH).text
        assert "/openapi.json" in page and "swagger" in page.lower()


STATE_CHANGES = [
    ("POST", "/train"),
    ("POST", "/jobs/0123456789abcdef/cancel"),
    ("POST", "/jobs/0123456789abcdef/resume"),
    ("POST", "/models/0123456789abcdef/predict"),
    ("DELETE", "/models/0123456789abcdef"),
    ("DELETE", "/cohorts/0123456789abcdef"),
]


@pytest.mark.parametrize(("method", "path"), STATE_CHANGES)
def test_a_cross_site_form_cannot_change_state(make_app: Callable[..., Any], method: str, path: str) -> None:
    with TestClient(make_app(None)) as client:
        for kind, body in [
            ("application/x-www-form-urlencoded", b"symbol=AAPL"),
            ("multipart/form-data; boundary=x", b"--x--"),
            ("text/plain", json.dumps(BODY).encode()),  # JSON text in a form's text/plain body
        ]:
            refused = client.request(method, path, content=body, headers={"Content-Type": kind})
            assert refused.status_code == 415, (kind, refused.text)
            detail = refused.json()["detail"]
            assert detail.startswith(f"{method} {path}: a body of type {kind.split(';')[0]} is refused")
            assert "Content-Type: application/json" in detail and "X-Requested-With" in detail
        bare = client.request(method, path)  # a no-cors fetch or a beacon: no body, no type
        assert bare.status_code == 403 and "X-Requested-With" in bare.json()["detail"]
        # What a script of the same origin sends gets through to the route (404: no such job or model).
        assert client.request(method, path, headers=SCRIPT).status_code not in (403, 415)
        if method == "POST":
            assert client.request(method, path, json={}).status_code not in (403, 415)


def test_reads_need_no_marker(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app(None)) as client:
        assert client.get("/models").status_code == 200
        assert client.get("/jobs").status_code == 200


_ABSOLUTE = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|var|srv|usr)/")


@pytest.fixture()
def own_services(service_store: Path, tmp_path: Path) -> Iterator[Services]:
    """Services on a copy of the demo store (this test deletes from it) and a fresh registry."""
    store = tmp_path / "features_parquet"
    shutil.copytree(service_store, store)
    settings = Settings(features_parquet_dir=store, models_dir=tmp_path / "models", metadata_db_path=tmp_path / "m.db")
    svc = Services.open(settings, run_jobs=False)
    yield svc
    svc.close()


def test_errors_name_no_absolute_server_path(own_services: Services, tmp_path: Path) -> None:
    svc = own_services
    req = TrainRequest(**BODY, target_transform="log_return", embargo=5, explain=False)
    record = train(req, store=svc.store, registry=svc.registry)
    artifact = Path(record.artifact_path)
    name = artifact.name
    details: list[str] = []
    with TestClient(create_app(svc.settings, services=svc)) as client:

        def error(expected: int) -> str:
            response = client.post(f"/models/{record.id}/predict", json={"limit": 3})
            assert response.status_code == expected, response.text
            text = json.dumps(response.json())
            details.append(text)
            return str(response.json()["detail"])

        artifact.write_bytes(artifact.read_bytes()[:-10])  # truncated: refused before unpickling
        assert error(409).startswith(f"model artifact MODELS_DIR/{name} was changed or truncated")
        artifact.unlink()
        assert error(409).startswith(f"model artifact MODELS_DIR/{name} is missing")
        svc.registry.delete(record.id)
        record = train(req, store=svc.store, registry=svc.registry)  # the same model again, with its file
        shutil.rmtree(FeatureStore(svc.settings.features_parquet_dir).symbol_dir("AAPL"))
        assert "AAPL" in error(404)
        missing = client.post("/train", json={**BODY, "symbol": "ZZZZ"}, headers=SCRIPT)
        assert missing.status_code == 422
        details.append(json.dumps(missing.json()))
    for text in details:
        assert str(tmp_path) not in text and not _ABSOLUTE.search(text), text


def test_a_full_registry_disk_is_a_507_with_one_line(small_disk: Any, service_store: Path, tmp_path: Path) -> None:
    disk = small_disk.mount("1m")
    settings = Settings(
        features_parquet_dir=service_store, models_dir=tmp_path / "models", metadata_db_path=disk / "metadata.db"
    )
    svc = Services.open(settings, run_jobs=False)
    try:
        with TestClient(create_app(settings, services=svc)) as client:
            filler = small_disk.fill(disk)
            refused = client.post("/train", json={**BODY, "target_transform": "log_return"})
            assert refused.status_code == 507, refused.text
            assert refused.json() == {
                "detail": "no space left on device writing the registry database metadata.db: free space or set "
                "METADATA_DB_PATH to a directory on a larger disk"
            }
            filler.unlink()
            assert client.get("/jobs").json()["total"] == 0  # nothing half-written
    finally:
        svc.close()


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.e2e
def test_a_chunked_body_over_the_limit_is_a_413_on_a_real_server(
    server_env: Callable[..., dict[str, str]], start_server: Callable[..., Any], tmp_path: Path
) -> None:
    server = start_server(server_env(f"sqlite:///{tmp_path / 'metadata.db'}"))
    oversize = json.dumps({**BODY, "alpha_grid": [0.001] * 20_000}).encode()  # ~200 KiB, no Content-Length
    refused = server.client.post("/train", content=_chunks(oversize), headers={"Content-Type": "application/json"})
    assert refused.request.headers["transfer-encoding"] == "chunked" and "content-length" not in refused.request.headers
    assert refused.status_code == 413, refused.text
    assert refused.json() == {"detail": "request body too large: the limit is 64 KiB; send a smaller request"}
    # A chunked body within the limit reaches the route whole: here it is read and refused for its content.
    small = json.dumps({**BODY, "target_transform": "log_return", "lookforward": 0}).encode()
    read = server.client.post("/train", content=_chunks(small, 16), headers={"Content-Type": "application/json"})
    assert read.status_code == 422 and "lookforward" in read.json()["detail"], read.text
    assert server.client.get("/health").status_code == 200
