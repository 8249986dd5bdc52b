"""Browser tests of Compare: picking 2-6 models in the table and the side-by-side page (issue 12)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from uikit import ARTIFACTS, UiData, _json, _screenshots

pytestmark = [pytest.mark.ui, pytest.mark.e2e, pytest.mark.slow]


def _two_siblings_differing_in_alpha(server: str, ui_data: UiData) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two cohort models with the same l1_ratio and different alphas (both keep their predictions)."""
    models = [_json(server, f"models/{i}") for i in ui_data.cohort_ids]
    for a in models:
        for b in models:
            ha, hb = a["hyperparameters"], b["hyperparameters"]
            if ha.get("l1_ratio") == hb.get("l1_ratio") and ha.get("alpha") != hb.get("alpha"):
                return a, b
    raise AssertionError("the UI store's cohort has no two models differing in alpha only")


def _pick(page: Page, model_id: str) -> None:
    """Tick a model's checkbox from the keyboard (focus, Space)."""
    box = page.locator(f"tr[data-model-id='{model_id}'] [data-testid=compare-pick]")
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()


def test_compare_three_models_side_by_side(page: Page, server: str, ui_data: UiData) -> None:
    a, b = _two_siblings_differing_in_alpha(server, ui_data)
    chosen = [a["id"], b["id"], ui_data.old_id]
    page.goto("/#/models?limit=200")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    button = page.locator("[data-testid=compare-button]")
    expect(button).to_have_text("Compare (0)")
    expect(button).to_be_disabled()
    _pick(page, chosen[0])
    expect(button).to_be_disabled()  # one model is no comparison
    for model_id in chosen[1:]:
        _pick(page, model_id)
    expect(button).to_have_text("Compare (3)")
    expect(page).to_have_url(re.compile(r"sel=" + re.escape("%2C".join(chosen))))
    button.click()
    expect(page).to_have_url(re.compile(r"#/compare\?ids="))
    expect(page.locator("h1")).to_have_text("Compare 3 models")

    params = page.locator("[data-testid=compare-params]")
    heads = params.locator("thead th[data-model-id]").evaluate_all("ths => ths.map(t => t.dataset.modelId)")
    assert heads == chosen
    alpha = params.locator("tr[data-group=hyperparameters][data-key=alpha]")
    expect(alpha).to_have_attribute("data-differs", "true")
    expect(alpha).to_have_class(re.compile(r"\bdiffers\b"))
    expect(alpha.locator("th")).to_contain_text("≠")
    expect(params.locator("tr[data-group=model][data-key=timeframe]")).to_have_attribute("data-differs", "false")
    expect(params.locator("tr[data-group=model][data-key=algorithm]")).to_have_attribute("data-differs", "true")
    metrics = page.locator("[data-testid=compare-metrics]")
    for key in ("sharpe", "net_annual_return", "max_drawdown", "turnover", "ic"):
        expect(metrics.locator(f"tr[data-key={key}]")).to_have_count(1)
    sharpe = a["metrics"]["cv"]["sharpe"]
    expect(metrics.locator("tr[data-key=sharpe] td").first).to_contain_text(f"{float(f'{sharpe:.4g}'):g}")

    # Only differences: the rows where all three agree are hidden, the differing ones stay.
    page.locator("[data-testid=only-diff]").check()
    expect(params.locator("tr[data-group=model][data-key=timeframe]")).to_be_hidden()
    expect(alpha).to_be_visible()
    expect(page).to_have_url(re.compile(r"diff=1"))
    page.locator("[data-testid=only-diff]").uncheck()
    expect(params.locator("tr[data-group=model][data-key=timeframe]")).to_be_visible()

    fold_chart = page.locator("svg[data-testid=compare-fold-chart-r2]")
    expect(fold_chart).to_be_visible()
    assert fold_chart.locator("path.series-line").count() == 3  # one line per model across its folds
    n_folds = len(a["metrics"]["folds"])
    first = fold_chart.locator("g.dots").first
    expect(first.locator("circle")).to_have_count(n_folds)

    equity = page.locator("svg[data-testid=compare-equity-chart]")
    expect(equity).to_be_visible()
    lines = equity.locator("path.series-line").evaluate_all("ls => ls.map(l => l.dataset.series)")
    assert lines == [a["id"][:8], b["id"][:8]]
    note = page.locator(f"[data-testid=no-equity][data-model-id='{ui_data.old_id}']")
    expect(note).to_contain_text("no out-of-sample predictions were kept")

    dm = page.locator("[data-testid=compare-dm] [data-testid=dm-row]")
    expect(dm).to_have_count(2)
    pair = _json(server, f"models/{a['id']}/compare/{b['id']}")
    expect(dm.nth(0).locator("td").nth(0)).to_have_text(str(pair["rows"]))
    expect(dm.nth(1)).to_contain_text("not testable")
    expect(page.locator("[data-testid=compare-equity]")).not_to_contain_text("null")
    _screenshots(page, "compare", "[data-testid=compare-params]")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "compare-full-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.locator("[data-testid=back-link]").click()
    expect(page.locator("[data-testid=compare-button]")).to_have_text("Compare (3)")  # the selection came back


def test_selection_survives_paging(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models?cohort_id={ui_data.cohort_id}&limit=2")
    rows = page.locator("[data-testid=model-row]")
    expect(rows).to_have_count(2)
    first = rows.nth(0).get_attribute("data-model-id")
    assert first
    _pick(page, first)
    page.locator("[data-testid=next-page]").click()
    expect(page).to_have_url(re.compile(r"offset=2"))
    expect(page.locator(f"tr[data-model-id='{first}']")).to_have_count(0)
    second = rows.nth(0).get_attribute("data-model-id")
    assert second and second != first
    expect(page.locator("[data-testid=compare-hint]")).to_contain_text("1 selected on other pages")
    _pick(page, second)
    expect(page.locator("[data-testid=compare-button]")).to_be_enabled()
    page.locator("[data-testid=sort-cv_score]").click()  # sorting keeps it too
    expect(page).to_have_url(re.compile(r"sort=cv_score"))
    expect(page.locator("[data-testid=compare-button]")).to_have_text("Compare (2)")
    page.locator("[data-testid=compare-button]").click()
    expect(page.locator("[data-testid=compare-params] thead th[data-model-id]")).to_have_count(2)


def test_compare_with_a_wrong_number_of_models_says_so(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/compare?ids={ui_data.parent_id}")
    expect(page.locator("[data-testid=compare-count]")).to_contain_text("2 to 6 models; one was given")
    page.locator("[data-testid=back-link]").click()
    expect(page.locator("[data-testid=models-table]")).to_be_visible()
    expect(page.locator("[data-testid=compare-button]")).to_have_text("Compare (1)")

    seven = ",".join([*ui_data.cohort_ids, ui_data.parent_id])
    page.goto(f"/#/compare?ids={seven}")
    expect(page.locator("[data-testid=compare-count]")).to_contain_text("7 were given")

    page.goto(f"/#/compare?ids={ui_data.parent_id},nosuchmodel")
    expect(page.locator("[data-testid=error]")).to_contain_text("nosuchmodel")
    expect(page.locator("[data-testid=back-link]")).to_be_visible()


def test_compare_fits_a_phone(browser: Browser, server: str, ui_data: UiData) -> None:
    """At 390 px the page is no wider than the screen: the side-by-side table scrolls inside its box."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        ids = ",".join([*ui_data.cohort_ids[:5], ui_data.old_id])
        pg.goto(f"/#/compare?ids={ids}")
        expect(pg.locator("svg[data-testid=compare-equity-chart]")).to_be_visible()
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the compare page is {width} px wide"
        wrap = pg.locator("[data-testid=compare-params-wrap]")
        inner, outer = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        assert inner > outer  # six models do not fit 390 px: the table scrolls in its box
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "compare-six-mobile.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors
