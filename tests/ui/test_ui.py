"""Browser tests of the web UI: a real server on a small real store, driven by headless Chromium.

The store (a 20-day demo market, a linear parent and an elastic-net cohort of 6 children) is built once per
test run (under a file lock, since pytest-xdist workers share it) and copied for each worker's server.
Chromium is Debian's package (``make browser``); without it these tests skip, except in CI where they fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
SYMBOLS = "AAPL,QQQ,VIX"
ALPHAS = [0.0001, 0.001, 0.01]
L1_RATIOS = [0.5, 0.9]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"UI tests cannot run in CI: {reason}")
    pytest.skip(reason)


try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None


@dataclass(frozen=True)
class UiData:
    root: Path
    parent_id: str
    cohort_id: str
    cohort_ids: list[str]
    classifier_id: str
    old_id: str


def _build(root: Path) -> UiData:
    """Ingest the demo market and train the parent and its cohort with the library (no server involved)."""
    from walkforward.domain import SplitScheme
    from walkforward.features.demo import generate_market
    from walkforward.features.pipeline import ingest_frames
    from walkforward.features.store import FeatureStore
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.registry import ModelStore, NewModel
    from walkforward.search import SearchRequest, run_search
    from walkforward.training import TrainRequest, train

    store = FeatureStore(root / "features_parquet")
    ingest_frames(store, generate_market(days=20, symbols=("AAPL", "QQQ", "VIX")), scheme=SplitScheme(5, 2))
    registry = ModelStore.open(f"sqlite:///{(root / 'metadata.db').resolve()}", root / "models")
    base = {"timeframe": "5m", "target_transform": "log_return", "embargo": 12}
    try:
        parent = train(
            TrainRequest(symbol=SYMBOLS, algorithm="linear_regression", explain=True, **base),
            store=store,
            registry=registry,
        )
        child = SearchRequest(
            symbol=SYMBOLS,
            algorithm="elasticnet_regression",
            parent_model_id=parent.id,
            p_value_threshold=1.0,
            search="grid",
            grids={"alpha_grid": ALPHAS, "l1_ratio_grid": L1_RATIOS},
            save_all_grid_models=True,
            explain=True,
            **base,
        )
        result = run_search(child, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))
        classifier = train(
            TrainRequest(symbol=SYMBOLS, algorithm="logistic_classification", explain=False, **base),
            store=store,
            registry=registry,
        )
        old = registry.add(_as_registered_before_predictions(NewModel, parent), registry.load_artifact(parent))
    finally:
        registry.dispose()
    return UiData(root, parent.id, result.cohort_id, [m.id for m in result.saved], classifier.id, old.id)


def _as_registered_before_predictions(new_model: Any, record: Any) -> Any:
    """The parent as a model registered before issue 11 would be: no kept predictions, no trading metrics."""
    fields = {name: getattr(record, name) for name in new_model.__dataclass_fields__}
    metrics = {k: v for k, v in record.metrics.items() if k != "trading"}
    derived = {k: v for k, v in record.derived.items() if k != "predictions"}
    return new_model(**{**fields, "metrics": metrics, "derived": derived, "fingerprint": f"{record.fingerprint}-old"})


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="session")
def server(ui_data: UiData) -> Iterator[str]:
    """``python -m walkforward serve`` on a free port over the worker's copy of the store."""
    with _serve(ui_data, {}, "server.log") as url:
        yield url


@contextlib.contextmanager
def _serve(ui_data: UiData, extra_env: dict[str, str], log_name: str) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(ui_data.root / "features_parquet"),
        "MODELS_DIR": str(ui_data.root / "models"),
        "METADATA_DB_PATH": str(ui_data.root / "metadata.db"),
    }
    env.pop("METADATA_DB_URL", None)
    env.update(extra_env)
    log = open(ui_data.root / log_name, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "walkforward", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}): {_tail(ui_data.root / log_name)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health in 60 s: {_tail(ui_data.root / log_name)}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser(ui_data: UiData) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Browser, server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh 1280x800 page; its console errors fail the test; a screenshot is kept as an artifact."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)  # a cold server's first cohort (selection statistics) can take seconds
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _row_ids(pg: Page) -> list[str]:
    ids: list[Any] = pg.locator("[data-testid=models-table] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.modelId)"
    )
    return [str(i) for i in ids]


def test_models_table_lists_the_models(page: Page, ui_data: UiData) -> None:
    page.goto("/#/models")
    rows = page.locator("[data-testid=model-row]")
    expect(rows.first).to_be_visible()
    ids = _row_ids(page)
    assert {ui_data.parent_id, *ui_data.cohort_ids} <= set(ids)
    child = page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}']")
    expect(child.locator("[data-testid=cohort-badge]")).to_contain_text(ui_data.cohort_id[:6])
    expect(child.locator("[data-testid=parent-badge]")).to_be_visible()
    expect(page.locator("[data-testid=page-info]")).to_contain_text(f"of {len(ids)}")

    # Server-side sort: by score, ascending after a second click.
    page.locator("[data-testid=sort-cv_score]").click()
    expect(page).to_have_url(re.compile(r"sort=cv_score"))
    expect(rows.first).to_be_visible()
    scores = page.locator("[data-testid=models-table] tbody tr td:nth-child(6) span").all_inner_texts()
    values = [float(s.split()[0]) for s in scores if s.split()[0] != "-"]
    assert values == sorted(values, reverse=True)

    # Filter by cohort: only the cohort's models are fetched and shown.
    page.goto(f"/#/models?cohort_id={ui_data.cohort_id}")
    expect(rows).to_have_count(len(ui_data.cohort_ids))
    assert set(_row_ids(page)) == set(ui_data.cohort_ids)


def test_cohort_modal_lists_siblings_and_regularisation_path(page: Page, ui_data: UiData) -> None:
    page.goto("/#/models")
    page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}'] [data-testid=cohort-badge]").click()
    modal = page.locator("[data-testid=cohort-modal]")
    expect(modal).to_be_visible()
    siblings = modal.locator("[data-testid=cohort-sibling]")
    expect(siblings).to_have_count(len(ui_data.cohort_ids))
    ids = siblings.evaluate_all("rows => rows.map(r => r.dataset.modelId)")
    assert set(ids) == set(ui_data.cohort_ids)
    expect(modal.locator("[data-testid=cohort-summary]")).to_contain_text("PBO")
    path = modal.locator("svg[data-testid=reg-path]")
    expect(path).to_be_visible()
    lines = path.locator("path.series-line")
    expect(lines).to_have_count(len(L1_RATIOS))
    names = lines.evaluate_all("ls => ls.map(l => l.dataset.series)")
    assert sorted(names) == sorted(f"l1_ratio {r}" for r in L1_RATIOS)
    assert path.locator("circle").count() == len(ui_data.cohort_ids)
    if os.environ.get("UPDATE_SCREENSHOT"):
        page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"))


def test_parent_badge_flashes_the_parent_row(page: Page, ui_data: UiData) -> None:
    page.goto("/#/models")
    badge = page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}'] [data-testid=parent-badge]")
    badge.click()
    parent_row = page.locator(f"tr[data-model-id='{ui_data.parent_id}']")
    expect(parent_row).to_have_class("flash")
    expect(parent_row).to_be_in_viewport()
    expect(parent_row).not_to_have_class("flash", timeout=4000)  # the highlight goes away by itself


def test_training_job_from_the_form_finishes(page: Page) -> None:
    page.goto("/#/train")
    page.get_by_label("Algorithm").select_option("linear_regression")
    page.get_by_label("Symbols").fill(SYMBOLS)
    page.get_by_label("Timeframe").select_option("5m")
    page.get_by_label("Search").select_option("none")
    page.get_by_label("Grids (JSON)").fill("{not json")
    expect(page.locator("[data-testid=grids-error]")).to_contain_text("not valid JSON")
    expect(page.locator("[data-testid=train-submit]")).to_be_disabled()
    page.get_by_label("Grids (JSON)").fill("")
    page.locator("[data-testid=train-explain]").uncheck()
    page.locator("[data-testid=train-submit]").click()
    expect(page).to_have_url(re.compile(r"#/jobs/\w+"))
    job = page.locator("[data-testid=job]")
    expect(job).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.locator("[data-testid=job-status]")).to_have_text("done")
    link = page.locator("[data-testid=job-model-link]").first
    expect(link).to_be_visible()
    # The best of a finished run is a link to its model, not a bare number.
    expect(page.locator("[data-testid=job-best-link]")).to_have_attribute("href", link.get_attribute("href") or "")
    link.click()
    expect(page.locator("[data-testid=model-id]")).to_be_visible()


def test_model_page_draws_its_charts(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models/{ui_data.parent_id}")
    expect(page.locator("[data-testid=model-id]")).to_have_text(ui_data.parent_id)
    for testid, mark in [
        ("importance-chart", "rect.bar"),
        ("regime-chart", "rect.gbar"),
        ("fold-timeline", "rect.span"),
        ("fold-chart-r2", "rect.bar"),
    ]:
        chart = page.locator(f"svg[data-testid={testid}]")
        expect(chart).to_be_visible()
        assert chart.locator(mark).count() > 0, testid
    timeline = page.locator("svg[data-testid=fold-timeline]")
    assert timeline.locator("g.fold rect.span.train").count() == 3
    assert timeline.locator("g.fold rect.span.test").count() == 3
    assert timeline.locator("g.fold rect.span.purge").count() >= 1
    assert timeline.locator("g.fold rect.span.embargo").count() >= 1
    expect(page.locator("[data-testid=pruning-table] tbody tr").first).to_be_visible()
    expect(page.locator("[data-testid=descendants] li")).to_have_count(len(ui_data.cohort_ids))


def test_a_job_is_cancelled_from_its_page(page: Page, server: str) -> None:
    # A search of thousands of combinations: still queued or running when the button is clicked.
    body = {"symbol": SYMBOLS, "algorithm": "lightgbm_regressor", "timeframe": "5m", "explain": False}
    submit = urllib.request.Request(
        f"{server}/train", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(submit, timeout=30) as res:
        job_id = json.load(res)["job_id"]
    page.goto(f"/#/jobs/{job_id}")
    expect(page.locator("[data-testid=job-trains]")).to_contain_text("lightgbm_regressor · AAPL,QQQ,VIX · 5m")
    page.locator("[data-testid=job-cancel]").click()  # the page's POST carries the header the server requires
    expect(page.locator("[data-testid=job]")).to_have_attribute("data-status", "cancelled", timeout=60_000)
    expect(page.locator("[data-testid=job-error]")).to_contain_text("cancelled")

    # Resume from the page: the same request is queued again as a new job, which is cancelled in turn.
    page.locator("[data-testid=job-resume]").click()
    expect(page).not_to_have_url(re.compile(rf"#/jobs/{job_id}$"))
    expect(page).to_have_url(re.compile(r"#/jobs/\w+$"))
    resumed = page.url.rsplit("/", 1)[-1]
    assert _json(server, f"jobs/{resumed}")["resumed_from"] == job_id
    expect(page.locator("[data-testid=job-cancel]")).to_be_enabled()
    page.locator("[data-testid=job-cancel]").click()
    expect(page.locator("[data-testid=job]")).to_have_attribute("data-status", "cancelled", timeout=60_000)
    expect(page.locator("[data-testid=job-resume]")).to_be_visible()
    page.goto("/#/jobs")
    expect(page.locator(f"tr[data-job-id='{resumed}'] [data-testid=job-trains]")).to_contain_text("lightgbm_regressor")


def _json(server: str, path: str) -> Any:
    with urllib.request.urlopen(f"{server}/{path}", timeout=30) as res:
        return json.load(res)


def _num(value: float, digits: int) -> str:
    """The UI's number format (util.js num) for values between 1e-3 and 1e6: ``digits`` significant digits."""
    return f"{float(f'{value:.{digits}g}'):g}"


def _screenshots(pg: Page, name: str, anchor: str) -> None:
    """The view around ``anchor`` at desktop (1400x900) and mobile (390x844) sizes, into test-artifacts/ui."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in [("desktop", {"width": 1400, "height": 900}), ("mobile", {"width": 390, "height": 844})]:
        pg.set_viewport_size(size)
        pg.locator(anchor).first.scroll_into_view_if_needed()
        pg.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"))
    pg.set_viewport_size({"width": 1280, "height": 800})


def test_model_page_shows_the_money_out_of_sample(page: Page, server: str, ui_data: UiData) -> None:
    model = _json(server, f"models/{ui_data.parent_id}")
    trading = model["metrics"]["trading"]
    equity = _json(server, f"models/{ui_data.parent_id}/equity")
    page.goto(f"/#/models/{ui_data.parent_id}")
    money = page.locator("[data-testid=money]")
    expect(money.locator("[data-testid=sample-label]").first).to_have_text("out-of-sample")
    settings = money.locator("[data-testid=trading-settings]")
    cost = trading["settings"]["commission_bps"] + trading["settings"]["slippage_bps"]
    expect(settings).to_contain_text(f"costs {cost:g} bp")
    expect(settings).to_contain_text(f"execution lag {trading['settings']['lag']} bar")

    table = money.locator("[data-testid=trading-table]")
    expect(table.locator("tbody tr[data-row=fold]")).to_have_count(len(trading["folds"]))
    overall = table.locator("tbody tr[data-row=overall] td")
    expect(overall.nth(1)).to_have_text(_num(trading["overall"]["sharpe"], 3))
    expect(table.locator("tbody tr[data-row=benchmark]")).to_contain_text("buy-and-hold")
    expect(table.locator("thead")).to_contain_text("IC")

    curve = page.locator("svg[data-testid=equity-chart]")
    expect(curve).to_be_visible()
    names = curve.locator("path.series-line").evaluate_all("ls => ls.map(l => l.dataset.series)")
    assert names == ["strategy (net)", "buy-and-hold"]
    assert curve.locator("g.dots[data-series='strategy (net)'] circle").count() == len(equity["sessions"])
    expect(page.locator("svg[data-testid=drawdown-chart] path.series-area")).to_have_count(1)

    scatter = page.locator("svg[data-testid=pred-actual]")
    expect(scatter).to_be_visible()
    folds = scatter.locator("g.dots").evaluate_all("gs => gs.map(g => g.dataset.series)")
    assert folds == [f"fold {f['fold']}" for f in trading["folds"]]
    assert scatter.locator("path.series-line").count() == 0  # a scatter: points only
    expect(page.locator("svg[data-testid=fold-chart-hit_rate] line.baseline")).to_have_count(1)
    _screenshots(page, "model-money", "[data-testid=money]")


def test_classifier_page_shows_calibration_and_confusion_matrix(page: Page, server: str, ui_data: UiData) -> None:
    metrics = _json(server, f"models/{ui_data.classifier_id}")["metrics"]
    page.goto(f"/#/models/{ui_data.classifier_id}")
    calibration = page.locator("svg[data-testid=calibration-chart]")
    expect(calibration).to_be_visible()
    bins = metrics["calibration"]["reliability"]["prob_pred"]
    assert calibration.locator("g.dots[data-series=model] circle").count() == len(bins)
    brier = _num(metrics["calibration"]["brier"], 4)
    expect(page.locator("[data-testid=brier]")).to_contain_text(f"Brier score {brier}")
    cells = page.locator("[data-testid=confusion-matrix] tbody td").all_inner_texts()
    assert [int(c) for c in cells] == [v for row in metrics["cv"]["confusion_matrix"] for v in row]
    expect(page.locator("[data-testid=confusion-fold-1]")).to_be_visible()
    expect(page.locator("[data-testid=majority-baseline]")).to_contain_text("majority class")
    headers = page.locator("[data-testid=fold-metrics] thead th").all_inner_texts()
    assert "confusion_matrix" not in headers and "accuracy" in headers
    expect(page.locator("svg[data-testid=pred-actual] g.dots").first).to_be_visible()
    _screenshots(page, "model-classifier", "[data-testid=calibration-chart]")


def test_a_model_without_kept_predictions_says_so(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models/{ui_data.old_id}")
    note = page.locator("[data-testid=money-note]")
    expect(note).to_contain_text("registered before they were")
    expect(page.locator("[data-testid=money] [data-testid=error]")).to_have_count(0)
    expect(page.locator("[data-testid=money]")).to_contain_text("No trading evaluation was recorded")
    expect(page.locator("svg[data-testid=equity-chart]")).to_have_count(0)


def _column(pg: Page, index: int) -> list[str]:
    return pg.locator(f"[data-testid=models-table] tbody tr td:nth-child({index})").all_inner_texts()


def test_models_table_sorts_by_sharpe_within_a_task(page: Page, ui_data: UiData) -> None:
    page.goto("/#/models?sort=cv_score")
    expect(page.locator("[data-testid=mixed-score-note]")).to_be_visible()  # R² beside accuracy is called out

    page.locator("[data-testid=task-filter]").select_option("regression")
    expect(page).to_have_url(re.compile(r"task=regression"))
    expect(page.locator(f"tr[data-model-id='{ui_data.classifier_id}']")).to_have_count(0)
    rows = page.locator("[data-testid=model-row]")
    expect(rows.first).to_be_visible()
    expect(page.locator("[data-testid=mixed-score-note]")).to_have_count(0)
    # The cohort, its parent and the old model (and any model the form test trained): regressors only.
    assert {ui_data.parent_id, ui_data.old_id, *ui_data.cohort_ids} <= set(_row_ids(page))
    assert not any("classif" in a for a in _column(page, 4))

    page.locator("[data-testid=sort-sharpe]").click()
    expect(page).to_have_url(re.compile(r"sort=metrics\.sharpe"))
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Sharpe")
    sharpe = [float(v) for v in _column(page, 7) if v != "-"]
    assert len(sharpe) >= 2 and sharpe == sorted(sharpe, reverse=True)
    assert all(v.endswith("%") for v in _column(page, 8) if v != "-")
    page.locator("[data-testid=sort-ic]").click()
    expect(page).to_have_url(re.compile(r"sort=metrics\.ic"))
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("IC")
    ic = [float(v) for v in _column(page, 9) if v != "-"]
    assert len(ic) >= 2 and ic == sorted(ic, reverse=True)
    _screenshots(page, "models-table", "[data-testid=models-table]")

    page.goto("/#/models?task=classification")
    expect(rows).to_have_count(1)
    assert _row_ids(page) == [ui_data.classifier_id]


def test_a_short_id_as_shown_opens_its_model(page: Page, ui_data: UiData) -> None:
    page.goto(f"/#/models/{ui_data.parent_id[:8]}")
    expect(page.locator("[data-testid=model-id]")).to_have_text(ui_data.parent_id)
    expect(page).to_have_url(re.compile(rf"#/models/{ui_data.parent_id}$"))

    page.goto("/#/models/nosuchmodel")
    expect(page.locator("[data-testid=error]")).to_be_visible()
    page.locator("[data-testid=back-link]").click()
    expect(page.locator("[data-testid=models-table]")).to_be_visible()

    page.goto("/#/jobs/nosuchjob")
    expect(page.locator("[data-testid=error]")).to_be_visible()
    page.locator("[data-testid=back-link]").click()
    expect(page).to_have_url(re.compile(r"#/jobs$"))


def test_cohort_modal_states_its_selection_statistics(page: Page, server: str, ui_data: UiData) -> None:
    selection = _json(server, f"cohorts/{ui_data.cohort_id}")["selection"]
    fallbacks = [i for i in ui_data.cohort_ids if _json(server, f"models/{i}")["derived"].get("fallback")]
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/models" in r.url or "/cohorts" in r.url else None)
    page.locator(f"tr[data-model-id='{ui_data.cohort_ids[0]}'] [data-testid=cohort-badge]").click()
    modal = page.locator("[data-testid=cohort-modal]")
    expect(modal.locator("[data-testid=cohort-sibling]")).to_have_count(len(ui_data.cohort_ids))
    assert len(requests) <= 2, requests  # the siblings come with their hyperparameters (issue 12, defect 12)
    # OLS-fallback combinations are marked, and drawn apart from the elastic-net lines (defect 3).
    expect(modal.locator("[data-testid=fallback-badge]")).to_have_count(len(fallbacks))
    expect(modal.locator("svg[data-testid=reg-path] g.dots[data-series='OLS fallback'] circle")).to_have_count(
        len(fallbacks)
    )
    summary = modal.locator("[data-testid=cohort-summary]")
    expect(summary).to_contain_text(f"{selection['n_tried']}")
    dsr = modal.locator("[data-testid=stat-dsr]")
    expect(dsr).to_contain_text(_num(selection["dsr"]["p_value"], 3))
    expect(dsr).to_have_class(re.compile("good" if selection["dsr"]["p_value"] < 0.05 else "bad"))
    expect(modal.locator("[data-testid=stat-spa]")).to_contain_text(_num(selection["spa"]["p_consistent"], 3))
    pbo = (selection.get("pbo") or {}).get("pbo")
    expect(modal.locator("[data-testid=stat-pbo]")).to_contain_text("not computed" if pbo is None else _num(pbo, 3))
    expect(modal.locator("[data-testid=selection-note]")).to_have_count(len(selection.get("notes", [])))
    best = modal.locator("[data-testid=cohort-best-link]")
    rank1 = modal.locator("[data-testid=cohort-sibling]").first.get_attribute("data-model-id")
    expect(best).to_have_attribute("href", f"#/models/{rank1}")
    _screenshots(page, "cohort-modal", "[data-testid=cohort-summary]")
    best.click()
    expect(modal).not_to_be_visible()
    expect(page.locator("[data-testid=model-id]")).to_have_text(rank1 or "")


def test_mobile_pages_fit_the_screen(browser: Browser, server: str, ui_data: UiData) -> None:
    """At 390 px the page is no wider than the screen and the Token button is on it (issue 12, defect 8)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server)
    pg = context.new_page()
    try:
        for route in ("/#/models", f"/#/models/{ui_data.parent_id}"):
            pg.goto(route)
            expect(pg.locator("[data-testid=models-table], [data-testid=model-id]").first).to_be_visible()
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{route} is {width} px wide"
            box = pg.locator("#token-button").bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390
    finally:
        context.close()


def test_the_train_form_shows_the_search_size_before_it_starts(page: Page) -> None:
    """Grids no longer silently add to the default grid: the switch, the plan and a second click above 200."""
    page.goto("/#/train")
    page.get_by_label("Algorithm").select_option("lightgbm_regressor")
    page.get_by_label("Symbols").fill(SYMBOLS)
    page.get_by_label("Search").select_option("grid")
    grids = {"num_leaves_grid": [5, 9, 31], "min_data_in_leaf_grid": [20, 80]}
    page.get_by_label("Grids (JSON)").fill(json.dumps(grids))
    page.locator("[data-testid=train-explain]").uncheck()
    default_grid = page.locator("[data-testid=train-default-grid]")
    expect(default_grid).to_be_checked()
    expect(page.locator("label", has=default_grid)).to_contain_text("combinations")

    # With the default grid the search is large: the first click only shows the plan and asks again.
    submit = page.locator("[data-testid=train-submit]")
    submit.click()
    configurations = page.locator("[data-testid=plan-configurations]")
    expect(configurations).to_be_visible()
    large = int(configurations.inner_text().split()[0].replace(",", ""))
    assert large > 200
    expect(submit).to_contain_text("anyway")
    expect(page).to_have_url(re.compile(r"#/train$"))
    _screenshots(page, "train-plan", "[data-testid=train-plan]")

    # Only the grids typed: 3 x 2 combinations, started at the first click.
    default_grid.uncheck()
    page.locator("[data-testid=train-preview]").click()
    expect(configurations).to_have_text("6 combinations")
    expect(submit).to_have_text("Start training")
    with page.expect_request(lambda r: r.url.endswith("/train") and r.method == "POST") as sent:
        submit.click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["use_default_grid"] is False and body["grids"]["num_leaves_grid"] == [5, 9, 31]
    expect(page).to_have_url(re.compile(r"#/jobs/\w+"))
    page.locator("[data-testid=job-cancel]").click()
    ended = re.compile("cancelled|done")
    expect(page.locator("[data-testid=job]")).to_have_attribute("data-status", ended, timeout=60_000)


def test_a_rejected_token_is_said_to_be_rejected(browser: Browser, ui_data: UiData) -> None:
    """With API_TOKEN set, a wrong stored token brings the token dialog back saying it was rejected."""
    with _serve(ui_data, {"API_TOKEN": "right-token"}, "server-token.log") as url:
        context = browser.new_context(base_url=url)
        pg = context.new_page()
        try:
            pg.goto("/#/models")
            pg.evaluate("localStorage.setItem('walkforward.token', 'wrong-token')")
            pg.reload()
            expect(pg.locator("[data-testid=token-dialog]")).to_be_visible()
            expect(pg.locator("[data-testid=token-reason]")).to_contain_text("rejected")
            pg.locator("[data-testid=token-input]").fill("right-token")
            pg.locator("[data-testid=token-save]").click()
            expect(pg.locator("[data-testid=model-row]").first).to_be_visible()
        finally:
            context.close()


def test_the_pager_agrees_with_the_url(page: Page) -> None:
    page.goto("/#/models?limit=5")
    expect(page.locator("[data-testid=model-row]")).to_have_count(5)
    expect(page.locator("#page-size")).to_have_value("5")
    expect(page.locator("[data-testid=page-info]")).to_contain_text("1–5 of")
    page.goto("/#/models?offset=500")
    expect(page.locator("[data-testid=page-info]")).to_contain_text("past the last of")
    page.locator("[data-testid=first-page]").click()
    expect(page.locator("[data-testid=page-info]")).to_contain_text("1–")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()


def test_keyboard_focus_survives_sorting(page: Page) -> None:
    """Enter on a sort header sorts and leaves the focus on that header (issue 12, defect 9)."""
    page.goto("/#/models")
    expect(page.locator("[data-testid=model-row]").first).to_be_visible()
    page.locator("[data-testid=sort-sharpe]").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"sort=metrics\.sharpe"))
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Sharpe")
    expect(page.locator("[data-testid=sort-sharpe]")).to_be_focused()
    page.keyboard.press("Enter")  # again: ascending, focus still there
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Sharpe")
    expect(page.locator("[data-testid=sort-sharpe]")).to_be_focused()
