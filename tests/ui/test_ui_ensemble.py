"""Browser test of "Build ensemble" in the cohort modal: method and K, then the new model's page with its members."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from uikit import UiData, _json, _screenshots


def test_build_ensemble_from_the_cohort_modal(page: Page, server: str, ui_data: UiData) -> None:
    page.goto("/#/models")
    page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}'] [data-testid=cohort-badge]").click()
    modal = page.locator("[data-testid=cohort-modal]")
    form = modal.locator("[data-testid=ensemble-form]")
    expect(form).to_be_visible()
    expect(form.locator("[data-testid=ensemble-top]")).to_have_attribute("max", str(len(ui_data.cohort_ids)))
    form.locator("[data-testid=ensemble-method]").select_option("stacking")
    form.locator("[data-testid=ensemble-top]").fill("2")
    _screenshots(page, "ensemble-form", "[data-testid=ensemble-card]")
    form.locator("[data-testid=ensemble-build]").click()
    link = modal.locator("[data-testid=ensemble-link]")
    expect(link).to_be_visible()
    expect(modal.locator("[data-testid=ensemble-result]")).to_contain_text("stacking, top 2")
    expect(modal.locator("[data-testid=ensemble-result]")).to_contain_text("no earlier fold")

    # A K above the cohort's size is refused by the form (the API's 422 is tested in tests/ensembles).
    top = form.locator("[data-testid=ensemble-top]")
    top.fill(str(len(ui_data.cohort_ids) + 1))
    assert top.evaluate("e => e.validity.rangeOverflow") is True
    top.fill("2")
    form.locator("[data-testid=ensemble-build]").click()
    expect(modal.locator("[data-testid=ensemble-result]")).to_contain_text("Already registered")

    link.click()
    expect(modal).not_to_be_visible()
    expect(page.locator("[data-testid=ensemble-members] li")).to_have_count(len(ui_data.cohort_ids))
    expect(page.locator("#view")).to_contain_text("ensemble")
    # Each fold's choice, and from which earlier folds it was made (never the fold itself or a later one).
    model = _json(server, f"models/{page.locator('[data-testid=model-id]').inner_text()}")
    folds = model["derived"]["ensemble"]["folds"]
    table = page.locator("[data-testid=ensemble-folds]")
    expect(table.locator("tbody tr")).to_have_count(len(folds) + 1)  # and the final choice
    for choice in folds:
        row = table.locator(f"tbody tr[data-fold='{choice['fold']}']")
        chosen_on = row.locator("td").nth(1).inner_text()
        assert chosen_on == (", ".join(str(f) for f in choice["trained_on_folds"]) or "none")
        assert all(f < choice["fold"] for f in choice["trained_on_folds"])
    expect(table.locator("tbody tr").first).to_contain_text("no earlier fold")
    _screenshots(page, "ensemble-model", "[data-testid=lineage]")

    # A member's page lists the ensemble built on it (a hash-only goto: wait for the member's page first).
    ensemble_id = model["id"]
    member = model["derived"]["ensemble"]["members"][0]
    page.goto(f"/#/models/{member}")
    expect(page.locator("[data-testid=model-id]")).to_have_text(member)
    used = page.locator(f"[data-testid=used-in-ensembles] li[data-model-id='{ensemble_id}']")
    badge = used.locator(".badge")
    expect(badge).to_have_text("final member")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    _screenshots(page, "ensemble-used-in", "[data-testid=used-in-ensembles]")
    used.locator(f"a[href='#/models/{ensemble_id}']").click()
    expect(page.locator("[data-testid=model-id]")).to_have_text(ensemble_id)
