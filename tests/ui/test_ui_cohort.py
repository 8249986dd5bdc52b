"""The cohort modal on a server that has not computed the cohort's selection statistics yet.

The siblings are drawn without waiting for the statistics (PBO, DSR, SPA: seconds on a cold
server); a placeholder says they are being computed until the second request brings them with the
explore view. At most two requests an opening, cold or warm. No timing is asserted: the second
request is held by the browser until the siblings are drawn, which proves they did not wait for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from uikit import UiData, _json, _num, _screenshots, _serve, checked_page


@pytest.fixture(scope="module")
def cold_server(ui_data: UiData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh server over a copy of the store without the statistics (and explore view) its search kept."""
    root = tmp_path_factory.mktemp("ui-cohort") / "store"
    shutil.copytree(ui_data.root, root, ignore=shutil.ignore_patterns("*.log", "*.selection.json", "*.explore.json"))
    assert not list((root / "models").rglob("*.json"))
    data = UiData(root, ui_data.parent_id, ui_data.cohort_id, ui_data.cohort_ids, ui_data.classifier_id, ui_data.old_id)
    with _serve(data, {}, "server-cohort.log") as url:
        yield url


def _api_requests(pg: Page) -> list[str]:
    """The page's requests to the API from now on (static files left out)."""
    seen: list[str] = []
    pg.on("request", lambda r: seen.append(r.url) if "/models" in r.url or "/cohorts" in r.url else None)
    return seen


def _open(pg: Page, model_id: str) -> None:
    pg.locator(f"tr[data-model-id='{model_id}'] [data-testid=cohort-badge]").click()


def test_siblings_come_first_then_the_statistics_in_two_requests(
    browser: Browser, cold_server: str, ui_data: UiData
) -> None:
    with checked_page(browser, cold_server, "test_ui_cohort_cold") as pg:
        pg.goto("/#/models")
        expect(pg.locator("[data-testid=model-row]").first).to_be_visible()
        held: list[Route] = []
        pg.route("**/cohorts/*/explore*", lambda route: held.append(route))
        requests = _api_requests(pg)
        _open(pg, ui_data.cohort_ids[0])
        modal = pg.locator("[data-testid=cohort-modal]")
        # The siblings are on screen while the statistics' request is still held by the browser.
        expect(modal.locator("[data-testid=cohort-sibling]")).to_have_count(len(ui_data.cohort_ids))
        expect(modal.locator("[data-testid=selection-pending]")).to_contain_text("Computing selection statistics")
        expect(modal.locator("[data-testid=cohort-summary]")).to_have_attribute("data-state", "computing")
        expect(modal.locator("[data-testid=stat-dsr]")).to_have_count(0)
        for _ in range(100):  # the explore request is sent once the siblings arrived
            if held:
                break
            pg.wait_for_timeout(100)
        assert len(held) == 1 and "selection=true" in held[0].request.url, requests
        assert len(requests) == 2 and "selection=kept" in requests[0], requests
        _screenshots(pg, "cohort-modal-computing", "[data-testid=cohort-summary]")
        held[0].continue_()
        dsr = modal.locator("[data-testid=stat-dsr]")
        expect(dsr).to_be_visible()
        expect(modal.locator("[data-testid=selection-pending]")).to_have_count(0)
        expect(modal.locator("[data-testid=history]")).to_be_visible()  # the explore view, from the same response
        assert len(requests) == 2, requests
        # The numbers are the API's (computed once: GET /cohorts/{id} now reads them from the memo).
        selection = _json(cold_server, f"cohorts/{ui_data.cohort_id}")["selection"]
        expect(dsr).to_contain_text(_num(selection["dsr"]["p_value"], 3))
        expect(modal.locator("[data-testid=stat-spa]")).to_contain_text(_num(selection["spa"]["p_consistent"], 3))
        expect(modal.locator("[data-testid=cohort-summary]")).to_contain_text(str(selection["n_tried"]))
        expect(modal.locator("[data-testid=selection-note]")).to_have_count(len(selection.get("notes", [])))
        _screenshots(pg, "cohort-modal-statistics", "[data-testid=cohort-summary]")
        pg.unroute("**/cohorts/*/explore*")
        modal.locator("[data-testid=cohort-close]").click()
        expect(modal).to_be_hidden()

        # Opened again: the statistics are kept, so they come with the siblings; still two requests.
        requests.clear()
        _open(pg, ui_data.cohort_ids[-1])
        expect(modal.locator("[data-testid=cohort-sibling]")).to_have_count(len(ui_data.cohort_ids))
        expect(modal.locator("[data-testid=stat-dsr]")).to_contain_text(_num(selection["dsr"]["p_value"], 3))
        expect(modal.locator("[data-testid=selection-pending]")).to_have_count(0)
        expect(modal.locator("[data-testid=history]")).to_be_visible()
        assert len(requests) == 2 and "selection=kept" in requests[0] and "selection" not in requests[1], requests
