"""The models table a researcher works in: picked metric columns, metric filters, the symbol filter on context symbols.

Each check compares what the page shows with what the API answers for the same question.
"""

from __future__ import annotations

import json
import re
import statistics
import urllib.parse
import urllib.request

from playwright.sync_api import Page, expect
from uikit import UiData, _json, _row_ids, _screenshots

from walkforward.model_summary import LISTED_METRICS


def _all_models(server: str) -> list[dict]:
    return list(_json(server, "models?limit=200")["items"])


def _header_index(page: Page, testid: str) -> int:
    """The 1-based column of the header holding ``testid`` (for td:nth-child)."""
    index = page.locator("[data-testid=models-table] thead th").evaluate_all(
        f"ths => ths.findIndex(th => th.querySelector('[data-testid={testid}]'))"
    )
    assert index >= 0, testid
    return int(index) + 1


def test_picked_columns_show_sort_and_persist(page: Page, server: str) -> None:
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    page.locator("[data-testid=columns-button]").click()
    boxes = page.locator("[data-testid=columns-menu] input[type=checkbox]")
    assert boxes.evaluate_all("bs => bs.map(b => b.value)") == list(LISTED_METRICS)  # every listed metric, in order

    page.locator("[data-testid=column-r2]").check()
    expect(page).to_have_url(
        re.compile(r"cols=r2%2Csharpe%2Cnet_annual_return%2Cic|cols=r2,sharpe,net_annual_return,ic")
    )
    expect(page.locator("[data-testid=columns-menu]")).to_have_attribute("open", "")  # stays open for the next box
    page.locator("[data-testid=column-ic]").uncheck()
    expect(page.locator("[data-testid=sort-ic]")).to_have_count(0)
    expect(page.locator("[data-testid=sort-r2]")).to_be_visible()

    # Sorted by the new column on the server: the page's order is the API's order.
    page.locator("[data-testid=sort-r2]").click()
    expect(page).to_have_url(re.compile(r"sort=metrics\.r2"))
    expect(page.locator("th[aria-sort=descending] [data-testid=sort-r2]")).to_be_visible()
    api = _json(server, "models?sort=metrics.r2&descending=true&limit=50")["items"]
    assert _row_ids(page) == [m["id"] for m in api]
    shown = page.locator(f"[data-testid=models-table] tbody td:nth-child({_header_index(page, 'sort-r2')})")
    values = [float(v) for v in shown.all_inner_texts() if v != "-"]
    assert values and values == sorted(values, reverse=True)
    _screenshots(page, "models-columns", "[data-testid=models-table]")

    # Every listed metric sorts on the server, both ways.
    for name in LISTED_METRICS:
        for descending in ("true", "false"):
            body = _json(server, f"models?sort=metrics.{name}&descending={descending}&limit=200")
            have = [m["metrics"][name] for m in body["items"] if name in m["metrics"]]
            assert have == sorted(have, reverse=descending == "true"), name

    # A later visit without `cols` in the link shows the same columns, and puts them in the URL.
    page.goto("/#/models")
    expect(page.locator("[data-testid=sort-r2]")).to_be_visible()
    expect(page.locator("[data-testid=sort-ic]")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"cols="))
    page.locator("[data-testid=columns-button]").click()
    page.locator("[data-testid=columns-reset]").click()
    expect(page.locator("[data-testid=sort-ic]")).to_be_visible()
    expect(page.locator("[data-testid=sort-r2]")).to_have_count(0)


def _filter(page: Page, where: str) -> None:
    page.locator("[data-testid=where-input]").fill(where)
    page.locator("[data-testid=filter-apply]").click()
    if where:  # the page's link says the filter as the server gets it (URLSearchParams: spaces as +)
        expect(page).to_have_url(re.compile(re.escape(urllib.parse.urlencode({"where": where}))))
    else:
        page.wait_for_function("() => !location.hash.includes('where=')")


def test_metric_filter_shows_only_matching_rows(page: Page, server: str) -> None:
    models = _all_models(server)
    sharpes = sorted(m["metrics"]["sharpe"] for m in models if "sharpe" in m["metrics"])
    assert len(sharpes) >= 3, "the UI store's models carry a Sharpe ratio"
    middle = statistics.median(sharpes)
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    for where, threshold in [("sharpe > 1", 1.0), (f"sharpe > {middle!r}", middle)]:
        expected = {m["id"] for m in models if m["metrics"].get("sharpe", float("-inf")) > threshold}
        _filter(page, where)
        if expected:
            expect(page.locator("[data-testid=model-row]")).to_have_count(len(expected))
        else:
            expect(page.locator("text=No models match.")).to_be_visible()
        assert set(_row_ids(page)) == expected
        expect(page.locator("[data-testid=page-info]")).to_contain_text(f"of {len(expected)}")
    assert 0 < len(expected) < len(models)  # the median splits them: the filter did something

    both = f"sharpe > {middle!r} and ic > 0"
    expected = {m["id"] for m in models if m["metrics"].get("sharpe", -1e9) > middle and m["metrics"].get("ic", -1) > 0}
    _filter(page, both)
    expect(page.locator("[data-testid=page-info]")).to_contain_text(f"of {len(expected)}")
    assert set(_row_ids(page)) == expected
    _screenshots(page, "models-where", "[data-testid=filters]")


def test_a_bad_filter_shows_the_servers_message_under_the_box(page: Page) -> None:
    page.goto("/#/models?where=sharpe%20%3E%3E%201")
    error = page.locator("[data-testid=where-error]")
    expect(error).to_contain_text("invalid filter 'sharpe >> 1': '>' where a number was expected")
    expect(error).to_contain_text(", ".join(LISTED_METRICS))
    expect(page.locator("[data-testid=where-input]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-testid=models-table]")).to_have_count(0)
    _screenshots(page, "models-where-error", "[data-testid=filters]")

    _filter(page, "sharp > 1")
    expect(error).to_contain_text("unknown metric 'sharp'")
    _filter(page, "sharpe > 0 or ic > 0")
    expect(error).to_contain_text("'or' where 'and' or the end of the filter was expected")
    _filter(page, "")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    expect(error).to_have_text("")


def test_symbol_filter_lists_models_using_it_as_a_context_symbol(page: Page, server: str, ui_data: UiData) -> None:
    models = _all_models(server)
    with_vix = {m["id"] for m in models if "VIX" in m["symbols"]}
    assert ui_data.cohort_ids[0] in with_vix and all(m["symbol"] != "VIX" for m in models)
    page.goto("/#/models")
    page.locator("#f-symbol").fill("vix")
    page.locator("[data-testid=filter-apply]").click()
    expect(page).to_have_url(re.compile(r"symbol=vix"))
    expect(page.locator("[data-testid=page-info]")).to_contain_text(f"of {len(with_vix)}")
    assert set(_row_ids(page)) == with_vix
    _screenshots(page, "models-symbol-context", "[data-testid=models-table]")

    page.locator("[data-testid=primary-only]").check()
    page.locator("[data-testid=filter-apply]").click()
    expect(page).to_have_url(re.compile(r"primary_only=true"))
    expect(page.locator("text=No models match.")).to_be_visible()
    expect(page.locator("[data-testid=primary-only]")).to_be_checked()


def _put_tags(server: str, model_id: str, tags: list[str]) -> None:
    body = json.dumps({"tags": tags, "note": ""}).encode()
    req = urllib.request.Request(
        f"{server}/models/{model_id}/notes", data=body, method="PUT", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status == 200


def test_the_tag_filter_and_a_tag_chip_show_the_tagged_models(page: Page, server: str) -> None:
    models = _all_models(server)
    assert len(models) >= 4
    a, b, c = (m["id"] for m in models[:3])
    tagged = {a: ["ui-tag", "ui-other"], b: ["UI-TAG"], c: ["ui-tag2"]}  # ui-tag2 is not ui-tag
    for model_id, tags in tagged.items():
        _put_tags(server, model_id, tags)
    try:
        page.goto("/#/models")
        expect(page.locator("[data-testid=model-row]").first).to_be_visible()
        page.locator("[data-testid=tag-filter]").fill("ui-tag")
        page.locator("[data-testid=filter-apply]").click()
        expect(page).to_have_url(re.compile(r"tag=ui-tag(&|$)"))
        expect(page.locator("[data-testid=page-info]")).to_contain_text("of 2")
        assert set(_row_ids(page)) == {a, b}  # any case; the server filtered (one page asked for)
        _screenshots(page, "models-tag-filter", "[data-testid=filters]")

        # A row's chip filters by its tag.
        page.locator(f"tr[data-model-id='{a}'] a.tag[data-tag='ui-other']").click()
        expect(page).to_have_url(re.compile(r"tag=ui-other(&|$)"))
        expect(page.locator("[data-testid=tag-filter]")).to_have_value("ui-other")
        expect(page.locator("[data-testid=page-info]")).to_contain_text("of 1")
        assert _row_ids(page) == [a]

        # On a model's page too: a hash-only goto, so wait for that model's tags before clicking.
        page.goto(f"/#/models/{c}")
        expect(page.locator("[data-testid=notes-tags]")).to_have_value("ui-tag2")
        page.locator("[data-testid=manage] a.tag[data-tag='ui-tag2']").click()
        expect(page).to_have_url(re.compile(r"#/models\?tag=ui-tag2$"))
        expect(page.locator("[data-testid=page-info]")).to_contain_text("of 1")
        assert _row_ids(page) == [c]
    finally:
        for model_id in tagged:
            _put_tags(server, model_id, [])
