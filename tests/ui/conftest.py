"""Fixtures of the browser tests: the store (built once per run), the server, Chromium and a checked page."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator

import pytest
from uikit import CHROMIUM, CHROMIUM_ARGS, UiData, _build, _serve, _unavailable, checked_page

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None


@pytest.fixture(scope="session")
def ui_data(tmp_path_factory: pytest.TempPathFactory) -> UiData:
    """The store, built once for all xdist workers and copied for this one (its server writes to it)."""
    if sync_playwright is None:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    built = shared / "ui-store"
    manifest = built / "ui.json"
    with open(shared / "ui-store.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest.exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            data = _build(built)
            manifest.write_text(
                json.dumps(
                    {
                        "parent_id": data.parent_id,
                        "cohort_id": data.cohort_id,
                        "cohort_ids": data.cohort_ids,
                        "classifier_id": data.classifier_id,
                        "old_id": data.old_id,
                    }
                )
            )
    meta = json.loads(manifest.read_text())
    mine = tmp_path_factory.mktemp("ui") / "store"
    shutil.copytree(built, mine, ignore=shutil.ignore_patterns("ui.json"))
    return UiData(mine, meta["parent_id"], meta["cohort_id"], meta["cohort_ids"], meta["classifier_id"], meta["old_id"])


@pytest.fixture(scope="session")
def server(ui_data: UiData) -> Iterator[str]:
    """``python -m walkforward serve`` on a free port over the worker's copy of the store."""
    with _serve(ui_data, {}, "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser(ui_data: UiData) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Browser, server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh 1280x800 page; script errors and console errors beyond an expected 4xx fail the test."""
    with checked_page(browser, server, request.node.name) as pg:
        yield pg
