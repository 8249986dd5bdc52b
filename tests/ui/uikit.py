"""What the browser tests of the web UI share: the small real store, the server, helpers (fixtures: conftest.py).

The tests drive a real server on a small real store with headless Chromium.

The store (a 20-day demo market, a linear parent and an elastic-net cohort of 6 children) is built once per
test run (under a file lock, since pytest-xdist workers share it) and copied for each worker's server.
Chromium is Debian's package (``make browser``); without it these tests skip, except in CI where they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
SYMBOLS = "AAPL,QQQ,VIX"
ALPHAS = [0.0001, 0.001, 0.01]
L1_RATIOS = [0.5, 0.9]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"UI tests cannot run in CI: {reason}")
    pytest.skip(reason)


if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@dataclass(frozen=True)
class UiData:
    root: Path
    parent_id: str
    cohort_id: str
    cohort_ids: list[str]
    classifier_id: str
    old_id: str


def _build(root: Path) -> UiData:
    """Ingest the demo market and train the parent and its cohort with the library (no server involved)."""
    from walkforward.domain import SplitScheme
    from walkforward.features.demo import generate_market
    from walkforward.features.pipeline import ingest_frames
    from walkforward.features.store import FeatureStore
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.registry import ModelStore, NewModel
    from walkforward.search import SearchRequest, run_search
    from walkforward.training import TrainRequest, train

    store = FeatureStore(root / "features_parquet")
    ingest_frames(store, generate_market(days=20, symbols=("AAPL", "QQQ", "VIX")), scheme=SplitScheme(5, 2))
    registry = ModelStore.open(f"sqlite:///{(root / 'metadata.db').resolve()}", root / "models")
    base = {"timeframe": "5m", "target_transform": "log_return", "embargo": 12}
    try:
        parent = train(
            TrainRequest(symbol=SYMBOLS, algorithm="linear_regression", explain=True, **base),
            store=store,
            registry=registry,
        )
        child = SearchRequest(
            symbol=SYMBOLS,
            algorithm="elasticnet_regression",
            parent_model_id=parent.id,
            p_value_threshold=1.0,
            search="grid",
            grids={"alpha_grid": ALPHAS, "l1_ratio_grid": L1_RATIOS},
            save_all_grid_models=True,
            explain=True,
            **base,
        )
        result = run_search(child, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))
        classifier = train(
            TrainRequest(symbol=SYMBOLS, algorithm="logistic_classification", explain=False, **base),
            store=store,
            registry=registry,
        )
        old = registry.add(_as_registered_before_predictions(NewModel, parent), registry.load_artifact(parent))
    finally:
        registry.dispose()
    return UiData(root, parent.id, result.cohort_id, [m.id for m in result.saved], classifier.id, old.id)


def _as_registered_before_predictions(new_model: Any, record: Any) -> Any:
    """The parent as a model registered before issue 11 would be: no kept predictions, no trading metrics."""
    fields = {name: getattr(record, name) for name in new_model.__dataclass_fields__}
    metrics = {k: v for k, v in record.metrics.items() if k != "trading"}
    derived = {k: v for k, v in record.derived.items() if k != "predictions"}
    return new_model(**{**fields, "metrics": metrics, "derived": derived, "fingerprint": f"{record.fingerprint}-old"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def _serve(ui_data: UiData, extra_env: dict[str, str], log_name: str) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(ui_data.root / "features_parquet"),
        "MODELS_DIR": str(ui_data.root / "models"),
        "METADATA_DB_PATH": str(ui_data.root / "metadata.db"),
    }
    env.pop("METADATA_DB_URL", None)
    env.update(extra_env)
    log = open(ui_data.root / log_name, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "walkforward", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}): {_tail(ui_data.root / log_name)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health in 60 s: {_tail(ui_data.root / log_name)}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _row_ids(pg: Page) -> list[str]:
    ids: list[Any] = pg.locator("[data-testid=models-table] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.modelId)"
    )
    return [str(i) for i in ids]


def _json(server: str, path: str) -> Any:
    with urllib.request.urlopen(f"{server}/{path}", timeout=30) as res:
        return json.load(res)


def _num(value: float, digits: int) -> str:
    """The UI's number format (util.js num) for values between 1e-3 and 1e6: ``digits`` significant digits."""
    return f"{float(f'{value:.{digits}g}'):g}"


def _screenshots(pg: Page, name: str, anchor: str) -> None:
    """The view around ``anchor`` at desktop (1400x900) and mobile (390x844) sizes, into test-artifacts/ui."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in [("desktop", {"width": 1400, "height": 900}), ("mobile", {"width": 390, "height": 844})]:
        pg.set_viewport_size(size)
        pg.locator(anchor).first.scroll_into_view_if_needed()
        pg.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"))
    pg.set_viewport_size({"width": 1280, "height": 800})


def _column(pg: Page, index: int) -> list[str]:
    return pg.locator(f"[data-testid=models-table] tbody tr td:nth-child({index})").all_inner_texts()


#: What a page may log as a console error: a refused request (4xx), which the page shows as its message.
EXPECTED_CONSOLE = re.compile(r"status of 4\d\d")


@contextlib.contextmanager
def checked_page(browser: Browser, base_url: str, name: str, viewport: dict[str, int] | None = None) -> Iterator[Page]:
    """A fresh 1280x800 page on ``base_url``: a script error, or a console error other than an expected
    4xx, fails the test; a screenshot named ``name`` is kept in test-artifacts/ui."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, base_url=base_url)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)  # a cold server's first cohort (selection statistics) can take seconds
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" and not EXPECTED_CONSOLE.search(msg.text) else None,
    )
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    finally:
        context.close()
    assert not errors, f"errors on the page (script, or console beyond an expected 4xx): {errors}"
