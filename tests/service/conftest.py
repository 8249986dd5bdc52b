"""Fixtures for the service: a small demo store, real server processes, an in-process app.

The servers are real ``python -m walkforward serve`` processes (own process group, so a test can
kill a server together with its job workers) on SQLite or PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from walkforward.config import Settings
from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.service import Services, create_app

SYMBOLS = ("AAPL", "QQQ", "VIX")


@pytest.fixture(scope="session")
def service_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 days of AAPL, QQQ and VIX with 5 train / 2 test day blocks; returns the store's root."""
    root = tmp_path_factory.mktemp("service") / "features_parquet"
    ingest_frames(FeatureStore(root), generate_market(days=20, symbols=SYMBOLS, seed=3), scheme=SplitScheme(5, 2))
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A ``walkforward serve`` process in its own process group, with an httpx client."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def start(self, timeout: float = 90) -> ServerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "walkforward", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                if self.client.get("/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"server not healthy after {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def kill_group(self) -> None:
        """SIGKILL the server and every process of its group (its job workers)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill_group()

    def wait_job(self, job_id: str, timeout: float = 240, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Poll a job until it ends; return its final JSON."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/jobs/{job_id}", headers=headers).json()
            if job["status"] in ("done", "failed", "cancelled", "interrupted"):
                return dict(job)
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} did not end in {timeout} s: {job}\n{self.log_path.read_text()[-3000:]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty registry database on each backend (PostgreSQL from the root conftest)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    return str(request.getfixturevalue("pg_registry_url"))


@pytest.fixture()
def server_env(service_store: Path, tmp_path: Path) -> Callable[[str], dict[str, str]]:
    """The environment of a server on ``url`` with this test's models directory."""

    def make(url: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("METADATA_DB_PATH", "API_TOKEN")}
        env.update(
            FEATURES_PARQUET_DIR=str(service_store),
            MODELS_DIR=str(tmp_path / "models"),
            METADATA_DB_URL=url,
            LOG_LEVEL="INFO",
            **extra,
        )
        return env

    return make


@pytest.fixture()
def start_server(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], ServerProcess]]:
    """Start servers (stopped, with their workers, at the end of the test)."""
    started: list[ServerProcess] = []

    def start(env: dict[str, str]) -> ServerProcess:
        server = ServerProcess(env, tmp_path / f"server-{len(started)}.log").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        server.client.close()


@pytest.fixture()
def app_services(service_store: Path, tmp_path: Path) -> Iterator[Services]:
    """Opened stores on a fresh SQLite registry, without a job runner (jobs stay queued)."""
    settings = Settings(
        features_parquet_dir=service_store,
        models_dir=tmp_path / "models",
        metadata_db_path=tmp_path / "metadata.db",
    )
    svc = Services.open(settings, run_jobs=False)
    yield svc
    svc.close()


@pytest.fixture()
def make_app(app_services: Services) -> Callable[..., Any]:
    """An in-process app on ``app_services`` (optionally with an API token)."""

    def make(api_token: str | None = None) -> Any:
        settings = app_services.settings.model_copy(update={"api_token": api_token})
        return create_app(settings, services=app_services)

    return make
