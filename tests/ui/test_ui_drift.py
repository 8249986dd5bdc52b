"""The model page's drift panel: 'no new data' on the shared store, and a shifted market on a store of its own."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect
from uikit import ARTIFACTS, SYMBOLS, TIMEOUT_MS, UiData, _screenshots, _serve

DAYS, TRAIN_DAYS = 22, 16


def _shifted_market() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The demo market's first 16 days, and all 22 with the stocks' returns 3x as volatile after day 16."""
    from walkforward.features.demo import generate_market

    first, full = {}, {}
    for sym, bars in generate_market(days=DAYS, symbols=SYMBOLS.split(","), seed=5).items():
        days = bars["ts"].dt.tz_convert("America/New_York").dt.date
        later = (days > sorted(days.unique())[TRAIN_DAYS - 1]).to_numpy()
        bars = bars.copy()
        if "open" in bars:
            r = np.diff(np.log(bars["close"].to_numpy()), prepend=np.log(bars["close"].iloc[0]))
            scale = np.exp(np.cumsum(np.where(later, 2.0 * r, 0.0)))
            for col in ("open", "high", "low", "close", "vwap"):
                bars[col] = bars[col] * scale
        full[sym] = bars
        first[sym] = bars[~later].reset_index(drop=True)
    return first, full


@pytest.fixture(scope="module")
def drift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A store where a model trained on 16 days has 6 later, shifted days; its server; the model id."""
    from walkforward.domain import SplitScheme
    from walkforward.features.pipeline import ingest_frames
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelStore
    from walkforward.training import TrainRequest, train

    root = tmp_path_factory.mktemp("ui-drift")
    store = FeatureStore(root / "features_parquet")
    first, full = _shifted_market()
    ingest_frames(store, first, scheme=SplitScheme(4, 2))
    registry = ModelStore.open(f"sqlite:///{(root / 'metadata.db').resolve()}", root / "models")
    try:
        req = TrainRequest(
            symbol=SYMBOLS, algorithm="linear_regression", timeframe="5m", target_transform="log_return", embargo=12
        )
        model_id = train(req, store=store, registry=registry).id
    finally:
        registry.dispose()
    ingest_frames(store, full, scheme=SplitScheme(4, 2))
    data = UiData(root, model_id, "", [], "", "")
    with _serve(data, {"WALKFORWARD_DRIFT_DRAWS": "300"}, "drift-server.log") as url:
        yield url, model_id


def test_drift_panel_says_when_there_is_no_new_data(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models/{ui_data.parent_id}")
    panel = page.locator("[data-testid=drift]")
    expect(panel.locator("[data-testid=drift-status]")).to_have_count(0)  # nothing computed until asked
    panel.locator("[data-testid=drift-check]").click()
    expect(panel.locator("[data-testid=drift-status]")).to_have_text("no new data")
    expect(panel).to_contain_text("no data after")
    expect(panel).to_contain_text("ingest newer bars")
    expect(panel.locator("[data-testid=error]")).to_have_count(0)
    _screenshots(page, "drift-no-new-data", "[data-testid=drift]")


def test_drift_panel_shows_the_drifting_features_first(browser: Browser, drift_server: tuple[str, str]) -> None:
    url, model_id = drift_server
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=url)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS * 4)  # the first drift request computes the bootstrap (seconds on 2 cores)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        pg.goto(f"/#/models/{model_id}")
        panel = pg.locator("[data-testid=drift]")
        panel.locator("[data-testid=drift-check]").click()
        expect(panel.locator("[data-testid=drift-status]")).to_have_text("ALERT", timeout=TIMEOUT_MS * 4)
        expect(panel.locator("[data-testid=drift-reasons]")).to_contain_text("past their alert threshold")
        statuses = (
            panel.locator("[data-testid=drift-table]")
            .first.locator("tbody tr")
            .evaluate_all("rows => rows.map(r => r.dataset.status)")
        )
        order = ["alert", "warn", "ok"]
        assert statuses and statuses[0] == "alert"
        assert statuses == sorted(statuses, key=order.index), statuses  # drifting first
        bars = panel.locator("[data-testid=drift-chart] rect.bar")
        expect(bars.first).to_have_class("bar drift-alert")
        assert bars.count() == len(statuses)
        expect(panel.locator("[data-testid=drift-others]")).to_contain_text("r2 on")
        _screenshots(pg, "drift-alert", "[data-testid=drift]")
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "test_drift_panel_shows_the_drifting_features_first.png"))
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
