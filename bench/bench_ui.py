"""The models table at 10,000 models, measured in the browser (headless Chromium through Playwright).

For each backend: a registry of 10,000 realistic models (``api_seed.py``: copies of real models' rows,
35-50 KB each with explanations, with spread Sharpe, IC and net return, every copy trained on its
symbol with QQQ and VIX as context) plus one real 12-model elastic-net cohort trained through the
library (so its modal reads real predictions), served by a real ``walkforward serve`` process. Then:

1. navigation: a fresh browser context opens ``/#/models`` until the table's rows are drawn;
2. sort: clicks on six sort headers in turn (created, score, Sharpe, net / yr, IC, algorithm), each
   until the new table is drawn;
3. filters: ``sharpe > 1`` / ``sharpe > 0.5`` typed into the metric filter and applied, and the symbol
   filter (``VIX``, a context symbol of every model, and ``NVDA``), each until the new table is drawn;
4. the cohort modal of the 12-model cohort: click on a cohort badge until its 12 siblings and the
   summary are drawn, with the requests the page made meanwhile.

``--cold-only`` measures just the first opening of the cohort on freshly started servers (no copies
seeded): in the page, the ms from the click to the 12 siblings in the DOM and to the selection
statistics in the DOM, and every request of the opening (up to the explore view drawn), each time
with what the search kept (``MODELS_DIR/cohorts/{cohort}.selection.json`` and ``.explore.json``)
and without (the files removed before the server starts, as for a cohort searched before them).

Times are wall clock from the click (or ``goto``) to the drawn table, taken in Python around
Playwright's calls (a few ms of its own are included). Results are printed and written to
``bench/out/ui-results.json``.

    .venv/bin/python bench/bench_ui.py [--backends sqlite,postgresql] [--models 10000] [--repeats 24]
    .venv/bin/python bench/bench_ui.py --cold-only [--backends sqlite] [--repeats 3]   # ~1 min a backend
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import api_seed
from bench_api import database, server, vacuum

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SORTS = ("cv_score", "sharpe", "net_annual_return", "ic", "algorithm", "created_at")
TARGETS = {
    "navigation": 1000,
    "navigation_in_page": 1000,
    "sort": 300,
    "sort_in_page": 300,
    "filter_where": 300,
    "filter_where_in_page": 300,
    "filter_symbol": 300,
    "filter_symbol_in_page": 300,
    "cohort_modal": 500,
}
TABLE = "[data-testid=models-table]"
#: The selection statistics drawn in the cohort modal (before issue 12's split: with the siblings).
STATISTICS = "[data-testid=cohort-summary]:not([data-state=computing])"
#: In the page: click the first cohort badge; resolve with the ms to the 12 siblings and to the
#: statistics in the DOM (each seen by a MutationObserver) and to the explore view drawn.
COHORT_OPENED = """async ([statistics]) => {
  const at = {};
  const t0 = performance.now();
  const check = () => {
    const now = performance.now() - t0;
    const siblings = document.querySelectorAll('[data-testid=cohort-sibling]').length;
    if (at.siblings === undefined && siblings >= 12) at.siblings = now;
    if (at.statistics === undefined && document.querySelector(statistics)) at.statistics = now;
    const explored = document.querySelector('[data-testid=history], [data-testid=cohort-explore] .error');
    if (at.explore === undefined && explored) at.explore = now;
    return at.siblings !== undefined && at.statistics !== undefined && at.explore !== undefined;
  };
  document.querySelector('[data-testid=cohort-badge]').click();
  await new Promise((resolve) => {
    const seen = new MutationObserver(() => { if (check()) { seen.disconnect(); resolve(); } });
    seen.observe(document.body, {childList: true, subtree: true, attributes: true});
  });
  return at;
}"""


def spread_metrics(rows: list[dict[str, Any]], seed: int = 3) -> None:
    """Give the copies a researcher's spread of trading figures (a Sharpe above 1 for about a fifth)."""
    rng = random.Random(seed)
    for row in rows:
        cv = row["metrics"].setdefault("cv", {})
        sharpe = rng.gauss(0.3, 0.85)
        cv["sharpe"] = sharpe
        cv["net_annual_return"] = 0.07 * sharpe + rng.gauss(0.0, 0.02)
        cv["ic"] = 0.02 * sharpe + rng.gauss(0.0, 0.02)


def train_cohort(root: Path, url: str) -> tuple[str, list[str]]:
    """A real 12-model elastic-net cohort (4 alphas x 3 l1 ratios, every model saved) on a demo market."""
    import walkforward as wf
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.search import SearchRequest, run_search

    store = wf.FeatureStore(root / "features_parquet")
    wf.write_demo_market(store, days=30, symbols=["AAPL", "QQQ", "VIX"], split_scheme="10:4")
    with wf.ModelStore.open(url, root / "models") as registry:
        req = SearchRequest(
            symbol="AAPL,QQQ,VIX",
            algorithm="elasticnet_regression",
            timeframe="5m",
            target_transform="log_return",
            embargo=12,
            p_value_threshold=1.0,
            search="grid",
            grids={"alpha_grid": [0.0001, 0.001, 0.01, 0.1], "l1_ratio_grid": [0.2, 0.5, 0.9]},
            save_all_grid_models=True,
            explain=False,
        )
        result = run_search(req, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))
    return result.cohort_id, [m.id for m in result.saved]


def quantiles(took: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(took, n=20, method="inclusive")
    return {"n": len(took), "p50": statistics.median(took), "p95": cuts[18], "max": max(took)}


#: The page's own Resource Timing of its last ``GET /models`` (request sent to last byte received), in ms.
LAST_REQUEST_MS = """() => {
  const done = performance.getEntriesByType('resource').filter((e) => /\\/models\\?/.test(e.name));
  return done.length ? done[done.length - 1].responseEnd - done[done.length - 1].startTime : null;
}"""


#: In the page: run an action (``sort`` header id, or ``[selector, value]`` to type and submit the
#: filters) and resolve with the ms from it to the frame after the new table and pager are in the DOM.
#: This is the app's own latency, without Playwright's actionability checks between the steps.
IN_PAGE = """async ([sort, field, value]) => {
  const drawn = () => {
    const table = document.querySelector('[data-testid=models-table]');
    return table && table !== old && table.closest('.table-wrap')?.parentElement.querySelector('[data-testid=pager]');
  };
  const old = document.querySelector('[data-testid=models-table]');
  const t0 = performance.now();
  if (sort) document.querySelector(`[data-testid=${sort}]`).click();
  else {
    document.querySelector(field).value = value;
    document.querySelector('[data-testid=filters]').requestSubmit();
  }
  await new Promise((resolve) => {
    const seen = new MutationObserver(() => { if (drawn()) { seen.disconnect(); resolve(); } });
    seen.observe(document.body, {childList: true, subtree: true});
  });
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return performance.now() - t0;
}"""
#: In the page: ms from the navigation's start to the frame after the first table rows are in the DOM.
NAVIGATED = """async () => {
  const rows = () => document.querySelector('[data-testid=models-table] tbody tr');
  if (!rows()) await new Promise((resolve) => {
    const seen = new MutationObserver(() => { if (rows()) { seen.disconnect(); resolve(); } });
    seen.observe(document.documentElement, {childList: true, subtree: true});
  });
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return performance.now();
}"""


def in_page(page: Any, args: list[str | None], times: list[float], requests: list[float]) -> None:
    """One interaction timed in the page (:data:`IN_PAGE`), with its ``GET /models`` from Resource Timing."""
    page.evaluate("performance.clearResourceTimings()")
    times.append(float(page.evaluate(IN_PAGE, args)))
    request = page.evaluate(LAST_REQUEST_MS)
    if request is not None:
        requests.append(float(request))


def timed(page: Any, action: Callable[[], None], requests: list[float]) -> float:
    """Milliseconds from ``action`` to a freshly drawn table (the old one is marked stale first); the
    ``GET /models`` it made goes to ``requests``."""
    page.evaluate("performance.clearResourceTimings()")
    page.evaluate(f"() => document.querySelector('{TABLE}')?.setAttribute('data-stale', '1')")
    start = time.perf_counter()
    action()
    # The table and the pager are drawn together, into a view that replaced the stale table's.
    page.wait_for_selector(f".table-wrap:has(> {TABLE}:not([data-stale])) ~ [data-testid=pager]")
    took = (time.perf_counter() - start) * 1000
    request = page.evaluate(LAST_REQUEST_MS)
    if request is not None:
        requests.append(float(request))
    return took


def measure(base: str, cohort_id: str, repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        viewport = {"width": 1400, "height": 900}
        # 1. navigation: a fresh context (no cache, no stored state) each time; the first warms the server.
        took, inside = [], []
        for i in range(repeats // 2 + 1):
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            start = time.perf_counter()
            page.goto(f"{base}/#/models", wait_until="domcontentloaded")  # the table's requests start after it
            drawn = float(page.evaluate(NAVIGATED))
            if i:
                took.append((time.perf_counter() - start) * 1000)
                inside.append(drawn)
            context.close()
        out["navigation"], out["navigation_in_page"] = quantiles(took), quantiles(inside)

        context = browser.new_context(viewport=viewport, base_url=base)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto("/#/models")
        page.wait_for_selector(f"{TABLE} tbody tr")
        # 2. sort: six headers in turn, so each click is a new order (a column clicked twice flips).
        took, asked = [], []
        for i in range(repeats):
            testid = f"sort-{SORTS[i % len(SORTS)]}"
            took.append(timed(page, lambda t=testid: page.locator(f"[data-testid={t}]").click(), asked))
        out["sort"], out["sort_request"] = quantiles(took), quantiles(asked)
        took, asked = [], []
        for i in range(repeats):
            in_page(page, [f"sort-{SORTS[i % len(SORTS)]}", None, None], took, asked)
        out["sort_in_page"], out["sort_in_page_request"] = quantiles(took), quantiles(asked)

        # 3. filters: a metric filter and a symbol filter, alternating between two values.
        def apply(selector: str, value: str) -> Callable[[], None]:
            def act() -> None:
                page.locator(selector).fill(value)
                page.locator("[data-testid=filter-apply]").click()

            return act

        filters = [
            ("filter_where", "/#/models?sort=metrics.sharpe", "#f-where", ("sharpe > 1", "sharpe > 0.5")),
            ("filter_symbol", "/#/models", "#f-symbol", ("VIX", "NVDA")),
        ]
        for name, route, field, values in filters:  # each timed from Playwright, then in the page
            page.goto(route)
            page.wait_for_selector(f"{TABLE} tbody tr")
            asked = []
            took = [timed(page, apply(field, values[i % 2]), asked) for i in range(repeats)]
            out[name], out[f"{name}_request"] = quantiles(took), quantiles(asked)
            took, asked = [], []
            for i in range(repeats):
                in_page(page, [None, field, values[i % 2]], took, asked)
            out[f"{name}_in_page"], out[f"{name}_in_page_request"] = quantiles(took), quantiles(asked)
        counts = {
            "sharpe > 1": page.evaluate(
                "async () => (await (await fetch('models?where=sharpe>1&limit=1')).json()).total"
            ),
            "VIX": page.evaluate("async () => (await (await fetch('models?symbol=VIX&limit=1')).json()).total"),
        }
        out["matches"] = counts

        # 4. the cohort modal: open, wait for the 12 siblings and the summary, count requests, close.
        page.goto(f"/#/models?cohort_id={cohort_id}")
        page.wait_for_selector(f"{TABLE} tbody tr")
        badge = page.locator("[data-testid=cohort-badge]").first
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        took, sent = [], []
        for _ in range(max(repeats // 2, 10) + 1):
            requests.clear()
            start = time.perf_counter()
            badge.click()
            page.wait_for_selector(STATISTICS)
            page.locator("[data-testid=cohort-sibling]").nth(11).wait_for()
            took.append((time.perf_counter() - start) * 1000)
            sent.append(len(requests))
            page.locator("[data-testid=cohort-close]").click()
            page.wait_for_selector("[data-testid=cohort-modal]", state="hidden")
        out["cohort_modal_first"] = took[0]
        out["cohort_modal"] = quantiles(took[1:])
        out["cohort_requests"] = max(sent)
        out["cohort_siblings"] = page.locator("[data-testid=cohort-sibling]").count()
        context.close()
        browser.close()
    return out


def measure_cold(base: str, cohort_id: str) -> dict[str, Any]:
    """The first opening of the cohort on a server that has not shown it yet (:data:`COHORT_OPENED`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=base).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"/#/models?cohort_id={cohort_id}")
        page.wait_for_selector(f"{TABLE} tbody tr")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        at = page.evaluate(COHORT_OPENED, [STATISTICS])
        browser.close()
    return {**at, "requests": len(requests)}


def serve_env(root: Path, url: str) -> dict[str, str]:
    """The environment of ``walkforward serve`` over the store and registry under ``root`` (no API token)."""
    env = {
        **os.environ,
        "METADATA_DB_URL": url,
        "MODELS_DIR": str(root / "models"),
        "FEATURES_PARQUET_DIR": str(root / "features_parquet"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("API_TOKEN", None)
    return env


def run_cold(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--cold-only``: the 12-model cohort alone, each first opening on a freshly started server."""
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, database(backend, Path(tmp)) as url:
        root = Path(tmp)
        cohort_id, _ = train_cohort(root, url)
        # What the search kept beside the models (none before the statistics were kept on disk).
        files = sorted((root / "models" / "cohorts").glob(f"{cohort_id}.*.json"))
        kept = {f: f.read_bytes() for f in files}
        env = serve_env(root, url)
        runs: dict[str, list[dict[str, Any]]] = {"persisted": [], "computed": []}
        for _ in range(args.repeats):
            for how in runs if kept else ("computed",):
                for file, content in kept.items():
                    if how == "computed":
                        file.unlink(missing_ok=True)
                    else:
                        file.write_bytes(content)
                with server([sys.executable, "-m", "walkforward", "serve"], env) as (base, _proc):
                    runs[how].append(measure_cold(base, cohort_id))
    return {"backend": backend, "load_average": os.getloadavg()[0], **runs}


def run_backend(backend: str, args: argparse.Namespace, templates: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, database(backend, Path(tmp)) as url:
        root = Path(tmp)
        started = time.perf_counter()
        cohort_id, members = train_cohort(root, url)
        rows = api_seed.copies(templates, args.models - len(members))
        spread_metrics(rows)
        with api_seed.ModelStore.open(url, root / "models") as store:
            api_seed.insert(store, rows)
        if backend == "postgresql":
            vacuum(url)
        print(f"[{backend}] {args.models:,} models ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        env = serve_env(root, url)
        with server([sys.executable, "-m", "walkforward", "serve"], env) as (base, _proc):
            before = os.getloadavg()[0]
            result = measure(base, cohort_id, args.repeats)
            load = (before, os.getloadavg()[0])
    return {"backend": backend, "models": args.models, "load_average": load, **result}


def report(results: list[dict[str, Any]]) -> None:
    print("\nThe models table in headless Chromium (ms, wall clock to the drawn table)")
    print(f"{'backend':<11}{'what':<22}{'n':>4}{'p50':>9}{'p95':>9}{'max':>9}{'target':>9}  ok")
    for r in results:
        for key, target in TARGETS.items():
            q = r[key]
            ok = "yes" if (q["p50"] if key.startswith("navigation") else q["p95"]) <= target else "NO"
            asked = r.get(f"{key}_request")
            request = f"  (GET /models in the page: p50 {asked['p50']:.0f}, p95 {asked['p95']:.0f})" if asked else ""
            print(
                f"{r['backend']:<11}{key:<22}{q['n']:>4}{q['p50']:>9.0f}{q['p95']:>9.0f}{q['max']:>9.0f}"
                f"{target:>9}  {ok}{request}"
            )
        print(
            f"{r['backend']:<11}cohort modal: first (cold) {r['cohort_modal_first']:.0f} ms, "
            f"{r['cohort_requests']} request(s), {r['cohort_siblings']} siblings; matches {r['matches']}; "
            f"load average {r['load_average'][0]:.1f} -> {r['load_average'][1]:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=24)
    parser.add_argument("--cold-only", action="store_true", help="only the cohort's first opening on fresh servers")
    args = parser.parse_args()
    if args.cold_only:
        cold = [run_cold(b, args) for b in args.backends.split(",") if b]
        api_seed.OUT.mkdir(parents=True, exist_ok=True)
        (api_seed.OUT / "ui-cold-results.json").write_text(json.dumps(cold, indent=2))
        for r in cold:
            for how in ("persisted", "computed"):
                for run in r[how]:
                    print(
                        f"{r['backend']:<11}{how:<10} siblings {run['siblings']:>6.0f} ms, statistics "
                        f"{run['statistics']:>6.0f} ms, explore {run['explore']:>6.0f} ms, {run['requests']} request(s)"
                    )
        return
    templates = api_seed.template_rows()
    results = []
    for backend in (b for b in args.backends.split(",") if b):
        results.append(run_backend(backend, args, templates))
        api_seed.OUT.mkdir(parents=True, exist_ok=True)
        (api_seed.OUT / "ui-results.json").write_text(json.dumps(results, indent=2))
        report(results[-1:])


if __name__ == "__main__":
    main()
