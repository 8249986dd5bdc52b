"""The model page's Retraining panel: Retrain runs a job that makes a child "retrained from" the model, followed
on the page; a schedule is simulated."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from uikit import UiData, _json, _screenshots, _serve, checked_page

pytestmark = [pytest.mark.ui, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_server(ui_data: UiData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, UiData]]:
    """A server on a copy of the store: retraining adds models that other UI tests do not expect."""
    root = tmp_path_factory.mktemp("ui-retrain") / "store"
    shutil.copytree(ui_data.root, root, ignore=shutil.ignore_patterns("*.log"))
    data = replace(ui_data, root=root)
    with _serve(data, {}, "retrain-server.log") as url:
        yield url, data


@pytest.fixture()
def retrain_page(browser: Browser, own_server: tuple[str, UiData], request: pytest.FixtureRequest) -> Iterator[Page]:
    with checked_page(browser, own_server[0], request.node.name) as pg:
        yield pg


def test_retrain_button_registers_a_child_shown_as_retrained_from(
    retrain_page: Page, own_server: tuple[str, UiData]
) -> None:
    server, data = own_server
    pg = retrain_page
    pg.goto(f"/#/models/{data.classifier_id}")
    panel = pg.locator("[data-testid=retraining]")
    expect(panel.locator("[data-testid=retrain-button]")).to_be_visible()
    expect(panel.locator("[data-testid=retrained-from]")).to_have_count(0)  # trained from scratch
    panel.locator("[data-testid=retrain-button]").click()
    # the retrain is a job: the panel links it while it runs and once it is done
    expect(panel.locator("[data-testid=retrain-job]")).to_have_attribute("href", re.compile(r"^#/jobs/[0-9a-f]{32}$"))
    result = panel.locator("[data-testid=retrain-result]")
    expect(result).to_contain_text(f"retrained {data.classifier_id}", timeout=120_000)
    child_id = panel.locator("[data-testid=retrain-child]").get_attribute("href").rsplit("/", 1)[-1]
    child = _json(server, f"models/{child_id}")
    assert child["parent_model_id"] == data.classifier_id
    assert child["derived"]["retrained_from"] == data.classifier_id
    job_id = result.locator("[data-testid=retrain-job]").get_attribute("href").rsplit("/", 1)[-1]
    job = _json(server, f"jobs/{job_id}")
    assert job["kind"] == "retrain" and job["status"] == "done" and job["result"]["model_id"] == child_id
    assert job["trains"].startswith(f"retrain of {data.classifier_id[:8]}")

    # the child's page says where it came from, which rows it used and what its metrics mean
    panel.locator("[data-testid=retrain-child]").click()
    expect(pg.locator("[data-testid=model-id]")).to_have_text(child_id)
    origin = pg.locator("[data-testid=retrained-from]")
    expect(origin).to_contain_text(f"Retrained from ↻ {data.classifier_id[:8]}")
    expect(origin).to_contain_text("all up to")
    expect(origin).to_contain_text("out-of-sample")
    expect(pg.locator("[data-testid=fact-retrained-from]")).to_be_visible()
    expect(pg.locator("[data-testid=lineage] [data-testid=ancestors]")).to_contain_text(data.classifier_id[:8])
    _screenshots(pg, "retrain-child", "[data-testid=retraining]")

    # no new data since: the same child comes back, nothing is trained
    pg.goto(f"/#/models/{data.classifier_id}")
    # A hash-only goto keeps the child's page until the router renders the parent: wait for it, or the
    # click lands on the child's own Retrain button.
    expect(pg.locator("[data-testid=model-id]")).to_have_text(data.classifier_id)
    expect(pg.locator("[data-testid=retrained-from]")).to_have_count(0)
    pg.locator("[data-testid=retraining] [data-testid=retrain-button]").click()
    expect(pg.locator("[data-testid=retrain-result]")).to_contain_text("no new data since", timeout=120_000)
    expect(pg.locator("[data-testid=retrain-child]")).to_have_attribute("href", f"#/models/{child_id}")
    badge = pg.locator("[data-testid=lineage] [data-testid=lineage-retrained]")
    expect(badge).to_have_count(1)
    # white text needs a background of its own to be read (it had none: invisible on the white page)
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    _screenshots(pg, "retrain-again", "[data-testid=retraining]")

    # the job's page says what it trained and links the child
    pg.locator("[data-testid=retrain-result] [data-testid=retrain-job]").click()
    expect(pg.locator("[data-testid=job]")).to_have_attribute("data-status", "done")
    expect(pg.locator("[data-testid=job-trains]")).to_contain_text(f"retrain of {data.classifier_id[:8]}")
    expect(pg.locator("[data-testid=job-message]")).to_contain_text("no new data since")
    expect(pg.locator("[data-testid=job-model-link]")).to_have_attribute("href", f"#/models/{child_id}")
    _screenshots(pg, "retrain-job", "[data-testid=job]")


def test_schedule_simulation_shows_frozen_vs_retrained(retrain_page: Page, own_server: tuple[str, UiData]) -> None:
    _, data = own_server
    pg = retrain_page
    pg.goto(f"/#/models/{data.parent_id}")
    form = pg.locator("[data-testid=schedule-form]")
    form.locator("[name=every]").fill("4")
    form.locator("[name=initial_days]").fill("12")
    form.locator("button[type=submit]").click()
    table = pg.locator("[data-testid=schedule-table]")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=120_000)
    expect(table.locator("tbody tr").first).to_contain_text("frozen")
    expect(table.locator("tbody tr").nth(1)).to_contain_text("retrained")
    expect(pg.locator("[data-testid=schedule-difference]")).to_contain_text("2 refit(s) every 4 session(s) after 12")
    job_id = pg.locator("[data-testid=schedule-job]").get_attribute("href").rsplit("/", 1)[-1]
    assert _json(own_server[0], f"jobs/{job_id}")["kind"] == "retrain_schedule"
    _screenshots(pg, "retrain-schedule", "[data-testid=retraining]")

    # a refusal is shown as the server's one line
    form.locator("[name=initial_days]").fill("")
    form.locator("button[type=submit]").click()
    expect(pg.locator("[data-testid=schedule-result] [data-testid=error]")).to_contain_text("pass initial_days")


def test_retrain_of_an_unknown_model_is_a_404(own_server: tuple[str, UiData], tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        f"{own_server[0]}/models/nope/retrain",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    jobs_before = _json(own_server[0], "jobs")["total"]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 404 and b"nope" in err.value.read()
    assert _json(own_server[0], "jobs")["total"] == jobs_before  # refused at submit: no job
