"""Browser tests of the feature clusters on a model page and of the SHAP-across-models view."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from uikit import UiData, _json, _num, _screenshots, checked_page

pytestmark = [pytest.mark.ui, pytest.mark.e2e, pytest.mark.slow]


def test_model_page_shows_the_cluster_table(page: Page, server: str, ui_data: UiData) -> None:
    stored = _json(server, f"models/{ui_data.parent_id}")["derived"]["explanations"]["clusters"]
    page.goto(f"/#/models/{ui_data.parent_id}")
    table = page.locator("[data-testid=clusters-table]")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(stored["clusters"]))
    first = stored["clusters"][0]
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == str(first["cluster"]) and first["members"][0] in cells[1]
    assert cells[3].startswith(_num(first["importance"], 4))
    unused = [c for c in stored["clusters"] if c["seen_folds"] == 0]
    for c in unused:  # clusters the model never saw (pruned) say so instead of a drop of 0
        row = rows.filter(has=page.locator("td:first-child", has_text=re.compile(f"^{c['cluster']}$")))
        expect(row.first.locator("td").nth(3)).to_have_text("not used")
    chart = page.locator("svg[data-testid=clusters-chart]")
    assert chart.locator("rect.bar").count() == min(12, len(stored["clusters"]))
    expect(page.locator("[data-testid=clusters-note]")).to_contain_text(f"cut at {stored['threshold']}")
    _screenshots(page, "clusters", "[data-testid=clusters-table]")


def test_shap_view_from_the_cohort_modal(page: Page, server: str, ui_data: UiData) -> None:
    page.goto("/#/models")
    page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}'] [data-testid=cohort-badge]").click()
    page.locator("[data-testid=cohort-shap-link]").click()
    expect(page).to_have_url(f"{server}/#/shap?cohort={ui_data.cohort_id}")
    expected = _json(server, f"shap?cohort={ui_data.cohort_id}")
    consistency = page.locator("[data-testid=shap-consistency] tbody tr")
    expect(consistency).to_have_count(min(25, len(expected["features"])))
    rest = page.locator("[data-testid=shap-consistency-rest] tbody tr")
    assert rest.count() == max(0, len(expected["features"]) - 25)
    expect(page.locator("[data-testid=shap-models] tbody tr")).to_have_count(expected["n_models"])
    assert consistency.first.locator("td").first.inner_text() == expected["features"][0]["feature"]
    assert page.locator("svg[data-testid=shap-consistency-chart] rect.bar").count() == min(
        15, len(expected["features"])
    )
    _screenshots(page, "shapview", "[data-testid=shap-consistency]")

    feature = expected["features"][0]["feature"]
    consistency.first.locator("[data-testid=shap-feature-link]").click()
    chart = page.locator("svg[data-testid=shap-dependence-chart]")
    expect(chart).to_be_visible(timeout=120_000)  # SHAP on demand for up to 3 models
    note = page.locator("[data-testid=shap-dependence-note]")
    expect(note).to_contain_text("training rows")
    dep = _json(server, f"shap?cohort={ui_data.cohort_id}&feature={feature}")["dependence"]
    drawn = sum(m["rows"] for m in dep["models"] if "error" not in m)
    assert drawn > 0 and chart.locator("circle").count() == drawn
    _screenshots(page, "shapview-dependence", "[data-testid=shap-dependence-chart]")


def test_shap_view_asks_for_a_selection_and_reports_bad_input(page: Page) -> None:
    page.goto("/#/shap")
    expect(page.locator("[data-testid=shap-form]")).to_be_visible()
    page.locator("[data-testid=shap-value]").fill("NOSUCH")
    page.locator("[data-testid=shap-form] button").click()
    expect(page.locator("[data-testid=error]")).to_contain_text("no model of symbol")


def test_shap_view_fits_a_phone(browser: Browser, server: str, ui_data: UiData) -> None:
    with checked_page(browser, server, "test_shap_view_fits_a_phone", viewport={"width": 390, "height": 844}) as pg:
        pg.goto("/#/shap?symbol=AAPL")
        expect(pg.locator("[data-testid=shap-consistency]")).to_be_visible()
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"#/shap is {width} px wide"
