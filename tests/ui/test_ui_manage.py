"""Browser tests of run management: tags and a note, delete with confirmation, downloads, clone into the form,
an unknown parent refused at submit, labelled regime levels and error pages with a way back (issue 12).

Tests that delete work on copies of the store's models registered for them (the server's registry is shared
by every test of this worker), so the models other tests expect stay.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from uikit import SYMBOLS, UiData, _json, _screenshots


def _registry(ui_data: UiData) -> Any:
    from walkforward.registry import ModelStore

    return ModelStore.open(f"sqlite:///{(ui_data.root / 'metadata.db').resolve()}", ui_data.root / "models")


def _copy(ui_data: UiData, model_id: str, **overrides: Any) -> Any:
    """Register a copy of a model (artifact and predictions files too) under a new id and fingerprint."""
    from walkforward.registry import NewModel

    registry = _registry(ui_data)
    try:
        record = registry.get(model_id)
        fields = {name: getattr(record, name) for name in NewModel.__dataclass_fields__}
        derived = {k: v for k, v in record.derived.items() if k != "predictions"}
        new = NewModel(**{**fields, "derived": derived, "fingerprint": uuid.uuid4().hex, **overrides})
        return registry.add(new, registry.load_artifact(record), predictions=registry.load_predictions(record))
    finally:
        registry.dispose()


def _delete(ui_data: UiData, model_id: str) -> None:
    registry = _registry(ui_data)
    try:
        registry.delete(model_id)
    finally:
        registry.dispose()


def _status(server: str, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{server}/{path}", timeout=30) as res:
            return int(res.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _files(ui_data: UiData, record: Any) -> list[Path]:
    return [Path(record.artifact_path), ui_data.root / "models" / record.derived["predictions"]["file"]]


def test_tags_and_a_note_round_trip(page: Page, server: str, ui_data: UiData) -> None:
    record = _copy(ui_data, ui_data.parent_id)
    page.goto(f"/#/models/{record.id}")
    tags, note = page.locator("[data-testid=notes-tags]"), page.locator("[data-testid=notes-note]")
    expect(tags).to_have_value("")
    tags.fill("bad!tag")
    page.locator("[data-testid=notes-save]").click()
    expect(page.locator("[data-testid=notes-error]")).to_contain_text('"bad!tag" is not a tag')
    tags.fill("baseline, to-review baseline")
    note.fill("Linear baseline.\nTry VIX regimes next.")
    page.locator("[data-testid=notes-save]").click()
    expect(page.locator("[data-testid=notes-status]")).to_have_text("Saved.")
    expect(page.locator("[data-testid=notes-error]")).to_have_text("")
    expect(tags).to_have_value("baseline, to-review")
    assert _json(server, f"models/{record.id}/notes")["note"] == "Linear baseline.\nTry VIX regimes next."
    _screenshots(page, "manage-notes", "[data-testid=manage]")

    page.reload()
    expect(page.locator("[data-testid=notes-note]")).to_have_value("Linear baseline.\nTry VIX regimes next.")
    page.goto("/#/models")
    row = page.locator(f"tr[data-model-id='{record.id}']")
    expect(row.locator(".tag")).to_have_text(["baseline", "to-review"])
    _screenshots(page, "manage-tags-in-table", f"tr[data-model-id='{record.id}']")
    _delete(ui_data, record.id)  # other tests of this worker count the store's models


def test_a_model_is_deleted_only_once_confirmed(page: Page, server: str, ui_data: UiData) -> None:
    record = _copy(ui_data, ui_data.parent_id)
    files = _files(ui_data, record)
    assert all(f.exists() for f in files)
    page.goto(f"/#/models/{record.id}")
    page.locator("[data-testid=delete-model]").click()
    dialog = page.locator("[data-testid=confirm-dialog]")
    expect(dialog).to_be_visible()
    items = dialog.locator("[data-testid=confirm-items]")
    expect(items).to_contain_text(f"model {record.id}")
    expect(items).to_contain_text(f"{record.id}.joblib")
    expect(items).to_contain_text("out-of-sample predictions")
    expect(page.locator("[data-testid=confirm-cancel]")).to_be_focused()  # the safe choice is the default
    _screenshots(page, "manage-delete-confirm", "[data-testid=confirm-dialog]")

    page.locator("[data-testid=confirm-cancel]").click()
    expect(dialog).to_be_hidden()
    assert _status(server, f"models/{record.id}") == 200 and all(f.exists() for f in files)

    page.locator("[data-testid=delete-model]").click()
    page.locator("[data-testid=confirm-delete]").click()
    expect(page).to_have_url(re.compile(r"#/models$"))
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    expect(page.locator(f"tr[data-model-id='{record.id}']")).to_have_count(0)
    assert _status(server, f"models/{record.id}") == 404
    assert not any(f.exists() for f in files)


def test_a_cohort_is_deleted_with_all_its_models(page: Page, server: str, ui_data: UiData) -> None:
    cohort = uuid.uuid4().hex
    members = [_copy(ui_data, mid, cohort_id=cohort) for mid in ui_data.cohort_ids[:2]]
    page.goto(f"/#/models/{members[0].id}")
    page.locator("[data-testid=delete-cohort]").click()
    items = page.locator("[data-testid=confirm-items]")
    expect(items).to_contain_text(f"all 2 model(s) of cohort {cohort}")
    page.locator("[data-testid=confirm-delete]").click()
    expect(page).to_have_url(re.compile(r"#/models$"))
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    for member in members:
        assert _status(server, f"models/{member.id}") == 404
        assert not any(f.exists() for f in _files(ui_data, member))
    assert _json(server, f"models?cohort_id={cohort}")["total"] == 0
    assert all(_status(server, f"models/{mid}") == 200 for mid in ui_data.cohort_ids)  # the original cohort stays


def test_downloads_are_the_registered_bytes(page: Page, server: str, ui_data: UiData, tmp_path: Path) -> None:
    model = _json(server, f"models/{ui_data.parent_id}")
    page.goto(f"/#/models/{ui_data.parent_id}")
    for testid, expected in [
        ("download-artifact", model["artifact_sha256"]),
        ("download-predictions", model["derived"]["predictions"]["sha256"]),
    ]:
        with page.expect_download() as got:
            page.locator(f"[data-testid={testid}]").click()
        saved = tmp_path / got.value.suggested_filename
        got.value.save_as(saved)
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == expected, testid
    assert saved.name == f"{ui_data.parent_id}.predictions.parquet"
    expect(page.locator("[data-testid=download-status]")).to_contain_text("checked by the server")
    # A model registered before predictions were kept has nothing to download.
    page.goto(f"/#/models/{ui_data.old_id}")
    expect(page.locator("[data-testid=download-predictions]")).to_be_disabled()


def test_clone_fills_the_form_and_gives_back_the_same_model(page: Page, server: str, ui_data: UiData) -> None:
    child_id = ui_data.cohort_ids[0]
    child = _json(server, f"models/{child_id}")
    page.goto(f"/#/models/{child_id}")
    page.locator("[data-testid=clone-model]").click()
    expect(page).to_have_url(re.compile(rf"#/train\?from={child_id}$"))
    expect(page.locator("[data-testid=clone-note]")).to_contain_text(child_id[:8])
    expect(page.locator("#algorithm")).to_have_value("elasticnet_regression")
    expect(page.locator("#symbol")).to_have_value(SYMBOLS)
    expect(page.locator("#timeframe")).to_have_value("5m")
    expect(page.locator("#target_transform")).to_have_value("log_return")
    expect(page.locator("#search")).to_have_value("none")
    expect(page.locator("#parent_model_id")).to_have_value(ui_data.parent_id)
    expect(page.locator("[data-testid=train-advanced]")).to_have_attribute("open", "")
    expect(page.locator("#embargo")).to_have_value("12")
    expect(page.locator("#p_value_threshold")).to_have_value("1")
    fixed = json.loads(page.locator("#hyperparameters").input_value())
    assert fixed == child["hyperparameters"] and {"alpha", "l1_ratio"} <= set(fixed)
    _screenshots(page, "manage-clone", "[data-testid=train-advanced]")

    # Started unchanged, the request is that model's: the registry gives it back instead of training again.
    with page.expect_request(lambda r: r.url.endswith("/train") and r.method == "POST") as sent:
        page.locator("[data-testid=train-submit]").click()
    body = json.loads(sent.value.post_data or "{}")
    assert {k: body[k] for k in child["request"]} == child["request"] | {"hyperparameters": fixed}
    expect(page).to_have_url(re.compile(r"#/jobs/\w+"))
    expect(page.locator("[data-testid=job]")).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.locator("[data-testid=job-model-link]").first).to_have_attribute("href", f"#/models/{child_id}")


def test_the_form_offers_every_option_of_the_request(page: Page) -> None:
    from walkforward.request import SearchRequest

    page.goto("/#/train")
    expect(page.locator("[data-testid=train-form]")).to_be_visible()
    names = set(page.locator("[data-testid=train-form] [name]").evaluate_all("els => els.map(e => e.name)"))
    assert set(SearchRequest.model_fields) - names == set()
    # The Advanced section is closed: the form stays short until asked.
    expect(page.locator("[data-testid=train-advanced]")).not_to_have_attribute("open", "")
    # An untouched form sends the request's own defaults for what it does not show up front.
    with page.expect_request(lambda r: "/train?dry_run=true" in r.url) as sent:
        page.get_by_label("Search").select_option("grid")
        page.locator("[data-testid=train-preview]").click()
    body = json.loads(sent.value.post_data or "{}")
    defaults = {name: f.default for name, f in SearchRequest.model_fields.items() if name in body}
    for name in (
        "cost_bps",
        "slippage_bps",
        "execution_lag",
        "long_only",
        "dead_band",
        "probability_threshold",
        "n_trials",
        "auto_threshold",
        "max_configs",
        "validation",
        "strict_embargo",
        "target_col",
    ):
        assert body[name] == defaults[name], name
    assert body["hyperparameters"] == {} and body["feature_whitelist"] is None and body["budget"] is None


def test_an_unknown_parent_is_refused_at_submit(page: Page, server: str) -> None:
    jobs_before = _json(server, "jobs")["total"]
    page.goto("/#/train")
    page.get_by_label("Algorithm").select_option("linear_regression")
    page.get_by_label("Symbols").fill(SYMBOLS)
    page.locator("[data-testid=train-parent]").fill("feed42")
    page.locator("[data-testid=train-submit]").click()
    error = page.locator("[data-testid=parent-error]")
    expect(error).to_contain_text("unknown parent_model_id feed42")
    expect(error).to_contain_text("no parent")
    expect(error).not_to_contain_text("walkforward models list")
    expect(page.locator("[data-testid=train-parent]")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#/train$"))
    assert _json(server, "jobs")["total"] == jobs_before
    _screenshots(page, "manage-unknown-parent", "[data-testid=train-parent]")
    page.locator("[data-testid=train-parent]").fill("")
    expect(error).to_have_text("")


def test_regime_levels_are_labelled(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models/{ui_data.parent_id}")
    chart = page.locator("svg[data-testid=regime-chart]")
    expect(chart).to_be_visible()
    legend = chart.locator("g.legend text").all_text_contents()
    column = page.locator("[data-testid=regime-select]").input_value()
    assert column.startswith(("regime_vix", "regime_gmm")), column
    names = ["low vol", "normal vol", "high vol"] if column.startswith("regime_vix") else ["calm", "middle", "volatile"]
    assert legend and all(any(n in text for n in names) for text in legend), legend
    about = page.locator("[data-testid=regime-about]")
    expect(about).to_contain_text(column)
    expect(about).to_contain_text("Levels: 0 ")
    _screenshots(page, "manage-regimes", "svg[data-testid=regime-chart]")


def test_error_pages_speak_to_the_user_and_lead_back(page: Page) -> None:
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    page.goto("/#/models/0123456789abcdef")
    error = page.locator("[data-testid=error]")
    expect(error).to_contain_text("no model with id '0123456789abcdef'")
    expect(error).not_to_contain_text("walkforward")
    expect(page.locator("[data-testid=way-back]")).to_be_visible()
    _screenshots(page, "manage-error-page", "[data-testid=error]")
    page.locator("[data-testid=previous-page]").click()
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()

    page.goto("/#/jobs/0123456789abcdef")
    expect(page.locator("[data-testid=error]")).to_contain_text("no job")
    page.locator("[data-testid=back-link]").first.click()
    expect(page).to_have_url(re.compile(r"#/jobs$"))

    page.goto("/#/nowhere")
    page.locator("[data-testid=way-back] [data-testid=back-link]").click()
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()

    page.goto("/#/models?symbol=ZZZZ")
    expect(page.locator("[data-testid=clear-filters]")).to_be_visible()
    page.locator("[data-testid=clear-filters]").click()
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
