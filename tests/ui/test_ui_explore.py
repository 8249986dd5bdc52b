"""Browser tests of the cohort modal's explore view: parallel coordinates, importance, slices, history."""

from __future__ import annotations

import dataclasses
import itertools
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from uikit import UiData, _json, _screenshots, _serve, checked_page

BIG_COHORT = "explore12"
# A point of an SVG path (in page coordinates) where the path is the topmost element, or null.
VISIBLE_POINT = """p => {
  const len = p.getTotalLength(), m = p.getScreenCTM();
  for (let i = 1; i < 200; i++) {
    const q = p.getPointAtLength((len * i) / 200);
    const x = m.a * q.x + m.c * q.y + m.e, y = m.b * q.x + m.d * q.y + m.f;
    if (document.elementFromPoint(x, y) === p) return {x, y};
  }
  return null;
}"""
BIG_ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1]
BIG_RATIOS = [0.1, 0.5, 0.9]


def _open_cohort(page: Page, model_id: str) -> list[str]:
    """Open the cohort modal from a model's row; return the API requests the modal made."""
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/models" in r.url or "/cohorts" in r.url else None)
    page.locator(f"tr[data-model-id='{model_id}'] [data-testid=cohort-badge]").click()
    return requests


def test_explore_view_draws_every_sibling_and_parameter(page: Page, server: str, ui_data: UiData) -> None:
    explored = _json(server, f"cohorts/{ui_data.cohort_id}/explore")
    varied = [a["name"] for a in explored["axes"]]
    assert set(varied) == {"alpha", "l1_ratio"}
    requests = _open_cohort(page, ui_data.cohort_ids[0])
    modal = page.locator("[data-testid=cohort-modal]")
    pc = modal.locator("svg[data-testid=parallel-coords]")
    expect(pc.locator("[data-testid=pc-line]")).to_have_count(len(ui_data.cohort_ids))
    assert len(requests) <= 2, requests
    lines = pc.locator("[data-testid=pc-line]").evaluate_all("ls => ls.map(l => l.dataset.modelId)")
    assert sorted(lines) == sorted(ui_data.cohort_ids)
    expect(pc.locator("[data-testid=pc-axis]")).to_have_count(len(varied))
    assert pc.locator("[data-testid=pc-axis]").evaluate_all("gs => gs.map(g => g.dataset.param)") == varied
    expect(pc.locator("[data-testid=pc-score-axis]")).to_contain_text("r2")
    # alpha spans two decades: a log axis.
    expect(pc.locator("[data-testid=pc-axis][data-param=alpha]")).to_contain_text("alpha (log)")
    expect(modal.locator("[data-testid=explore-score]")).to_contain_text("cv r2 (higher is better)")

    # Importance names both parameters (or says why it cannot), in the server's order.
    importance = explored["importance"]
    if importance["items"]:
        items = modal.locator("[data-testid=param-importance] li")
        expect(items).to_have_count(2)
        assert items.evaluate_all("ls => ls.map(l => l.dataset.param)") == [i["name"] for i in importance["items"]]
    else:
        expect(modal.locator("[data-testid=param-importance-note]")).to_contain_text("not enough variation")

    fallbacks = sum(1 for t in explored["trials"] if t["fallback"])
    expect(pc.locator("[data-testid=pc-line].fallback")).to_have_count(fallbacks)
    expect(modal.locator("[data-testid=param-importance-left-out]")).to_have_count(1 if fallbacks else 0)

    # One slice per parameter, one dot per scored sibling; the history with its running best.
    scored = sum(1 for t in explored["trials"] if t["score"] is not None)
    expect(modal.locator("[data-testid=slice]")).to_have_count(len(varied))
    for name in varied:
        expect(modal.locator(f"svg[data-testid=slice-{name}] g.dots circle")).to_have_count(scored)
    history = modal.locator("svg[data-testid=history]")
    expect(history.locator("g.dots circle")).to_have_count(scored)
    expect(history.locator("path[data-series='best so far']")).to_have_count(1)
    expect(modal.locator("[data-testid=history-order]")).to_contain_text("grid order")
    # The elastic-net regularisation path stays.
    expect(modal.locator("svg[data-testid=reg-path]")).to_be_visible()
    _screenshots(page, "cohort-explore", "[data-testid=parallel-coords]")

    # Hover picks a line out; a click opens its model and closes the modal.
    target = ui_data.cohort_ids[-1]
    line = pc.locator(f"[data-testid=pc-line][data-model-id='{target}']")
    point = line.evaluate(VISIBLE_POINT)
    assert point is not None, "no point of the line is on top"
    page.mouse.move(point["x"], point["y"])
    expect(line).to_have_class(re.compile(r"\bhl\b"))
    page.mouse.click(point["x"], point["y"])
    expect(modal).not_to_be_visible()
    expect(page.locator("[data-testid=model-id]")).to_have_text(target)


def test_explore_view_fits_a_phone(browser: Browser, server: str, ui_data: UiData) -> None:
    with checked_page(browser, server, "explore-phone", {"width": 390, "height": 844}) as pg:
        _open_cohort(pg, ui_data.cohort_ids[0])
        modal = pg.locator("[data-testid=cohort-modal]")
        expect(modal.locator("svg[data-testid=history]")).to_be_visible()
        for testid in ("parallel-coords", "history", "slice-alpha"):
            box = modal.locator(f"svg[data-testid={testid}]").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (testid, box)
        dialog = modal.bounding_box()
        assert dialog is not None and dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= 390
        close = modal.locator("[data-testid=cohort-close]").bounding_box()
        assert close is not None and close["x"] + close["width"] <= 390
        assert pg.evaluate("document.getElementById('cohort-body').scrollWidth") <= dialog["width"]


@pytest.fixture(scope="module")
def big_cohort(ui_data: UiData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A server over a copy of the store holding a 12-model cohort (4 alphas x 3 l1_ratios, r2 planted on alpha).

    The models are copies of a real sibling (its artifact and kept predictions), registered with the
    library under new hyperparameters and scores, so the selection statistics run on real predictions.
    """
    from walkforward.registry import ModelStore, NewModel

    root = tmp_path_factory.mktemp("ui-explore") / "store"
    shutil.copytree(ui_data.root, root, ignore=shutil.ignore_patterns("*.log"))
    registry = ModelStore.open(f"sqlite:///{(root / 'metadata.db').resolve()}", root / "models")
    ids = []
    try:
        source = registry.get(ui_data.cohort_ids[0])
        artifact, predictions = registry.load_artifact(source), registry.load_predictions(source.id)
        fields: dict[str, Any] = {f.name: getattr(source, f.name) for f in dataclasses.fields(NewModel)}
        grid = {"alpha": BIG_ALPHAS, "l1_ratio": BIG_RATIOS}
        for i, (alpha, ratio) in enumerate(itertools.product(BIG_ALPHAS, BIG_RATIOS)):
            score = 0.02 - 0.01 * abs(BIG_ALPHAS.index(alpha) - 1)
            derived = {
                **{k: v for k, v in source.derived.items() if k not in ("predictions", "fallback", "search")},
                "search": {"strategy": "grid", "grid": grid, "grid_size": 12},
            }
            new = NewModel(
                **{
                    **fields,
                    "hyperparameters": {**source.hyperparameters, "alpha": alpha, "l1_ratio": ratio},
                    "cv_score": score,
                    "cohort_id": BIG_COHORT,
                    "cohort_rank": None,
                    "fingerprint": f"explore12-{i}",
                    "derived": derived,
                }
            )
            ids.append(registry.add(new, artifact, predictions=predictions).id)
    finally:
        registry.dispose()
    data = UiData(root, ui_data.parent_id, BIG_COHORT, ids, ui_data.classifier_id, ui_data.old_id)
    with _serve(data, {}, "server-explore.log") as url:
        yield url, ids


def test_a_12_model_cohort_opens_in_two_requests(browser: Browser, big_cohort: tuple[str, list[str]]) -> None:
    url, ids = big_cohort
    with checked_page(browser, url, "explore-12", {"width": 1400, "height": 900}) as pg:
        requests = _open_cohort(pg, ids[0])
        modal = pg.locator("[data-testid=cohort-modal]")
        expect(modal.locator("[data-testid=cohort-sibling]")).to_have_count(12)
        expect(modal.locator("svg[data-testid=parallel-coords] [data-testid=pc-line]")).to_have_count(12)
        expect(modal.locator("svg[data-testid=history] g.dots circle")).to_have_count(12)
        assert len(requests) <= 2, requests
        # The planted dependence on alpha ranks it first; l1_ratio does not move the score at all.
        items = modal.locator("[data-testid=param-importance] li")
        expect(items).to_have_count(2)
        assert items.evaluate_all("ls => ls.map(l => l.dataset.param)") == ["alpha", "l1_ratio"]
        _screenshots(pg, "cohort-explore-12", "[data-testid=param-importance]")


@pytest.fixture(scope="module")
def best_only(ui_data: UiData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server over a copy of the store after a best-only search of 6 combinations: 1 model registered."""
    from walkforward.features.store import FeatureStore
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.registry import ModelStore
    from walkforward.search import SearchRequest, run_search

    root = tmp_path_factory.mktemp("ui-best-only") / "store"
    shutil.copytree(ui_data.root, root, ignore=shutil.ignore_patterns("*.log"))
    registry = ModelStore.open(f"sqlite:///{(root / 'metadata.db').resolve()}", root / "models")
    try:
        sreq = SearchRequest(
            symbol="AAPL,QQQ,VIX",
            algorithm="elasticnet_regression",
            search="grid",
            grids={"alpha_grid": [0.0002, 0.002, 0.02], "l1_ratio_grid": [0.3, 0.7]},
            use_default_grid=False,
            explain=False,
            timeframe="5m",
            target_transform="log_return",
            embargo=12,
        )
        result = run_search(
            sreq, store=FeatureStore(root / "features_parquet"), registry=registry, executor=LocalExecutor(n_jobs=1)
        )
    finally:
        registry.dispose()
    assert len(result.saved) == 1
    data = UiData(
        root, ui_data.parent_id, result.cohort_id, [result.saved[0].id], ui_data.classifier_id, ui_data.old_id
    )
    with _serve(data, {}, "server-best-only.log") as url:
        yield url, result.saved[0].id


def test_a_best_only_search_is_explored_over_all_it_scored(browser: Browser, best_only: tuple[str, str]) -> None:
    """Six lines for one registered model: five thin, without a link (nothing registered to open)."""
    url, model_id = best_only
    with checked_page(browser, url, "explore-best-only", {"width": 1400, "height": 900}) as pg:
        _open_cohort(pg, model_id)
        modal = pg.locator("[data-testid=cohort-modal]")
        expect(modal.locator("[data-testid=cohort-sibling]")).to_have_count(1)
        lines = modal.locator("svg[data-testid=parallel-coords] [data-testid=pc-line]")
        expect(lines).to_have_count(6)
        expect(modal.locator("[data-testid=explore-counts]")).to_contain_text(
            "1 registered model(s) and 5 configuration(s)"
        )
        unsaved = modal.locator("svg[data-testid=parallel-coords] [data-testid=pc-line].unsaved")
        expect(unsaved).to_have_count(5)
        # Only the registered line sits in a link to its model.
        linked = lines.evaluate_all(
            "ls => ls.map(l => l.parentElement.tagName.toLowerCase() === 'a' && l.dataset.modelId)"
        )
        assert sorted(map(str, linked)) == sorted([model_id, *["False"] * 5])
        expect(modal.locator("svg[data-testid=history] g.dots circle")).to_have_count(6)
        expect(modal.locator("[data-testid=param-importance] li")).to_have_count(2)
