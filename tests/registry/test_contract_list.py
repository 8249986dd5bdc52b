"""The list contract on every backend: light list rows, kept in step with the models, sorted and capped.

A list page reads the store's list tables (``model_summaries``, ``model_metrics``), never a model's
JSON; what it shows must equal the brief form of the full record, whatever was written since.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from walkforward.errors import InvalidInputError
from walkforward.metric_filter import MetricCondition, parse_where
from walkforward.model_summary import metric_values
from walkforward.registry import MAX_PAGE, ModelStore, ModelSummary, NewModel
from walkforward.registry._schema import model_metrics, model_summaries, model_symbols
from walkforward.reports.payloads import model_dict, summary_dict

NewModelFactory = Callable[..., NewModel]

# Metrics as training stores them (aggregate under "cv", the score's name), flat ones, odd ones.
TRAINED = {"cv": {"r2": 0.25, "r2_std": 0.125, "rmse": 2.0, "hit_rate": 0.5}, "folds": [{"r2": 0.3}], "score": "r2"}
CLASSIFIER = {"cv": {"accuracy": 0.6, "f1": 0.5, "base_rate": 0.52}, "score": "accuracy"}
ODD = {"cv": {"r2": None, "rmse": float("nan"), "n": True}, "r2": 0.9, "score": 7}


def ids(rows: list[ModelSummary]) -> list[str]:
    return [r.id for r in rows]


@contextmanager
def statements(store: ModelStore) -> Iterator[list[str]]:
    """The SQL the store sends while the block runs."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    engine = store.database._engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture()
def models(store: ModelStore, new_model: NewModelFactory) -> dict[str, Any]:
    """Nine models: three symbols (VIX as context) x (trained regressor, classifier, odd metrics), distinct times."""
    out = {}
    for i, symbol in enumerate(("AAPL", "MSFT", "QQQ")):
        for kind, metrics in (("reg", TRAINED), ("clf", CLASSIFIER), ("odd", ODD)):
            cv = metrics["cv"]
            scaled = {**metrics, "cv": {k: v * (i + 1) if isinstance(v, float) else v for k, v in cv.items()}}
            out[f"{symbol}-{kind}"] = store.add(
                new_model(
                    symbol=symbol,
                    symbols=(symbol, "VIX"),  # VIX as a context symbol of every model
                    algorithm=f"algo_{kind}",
                    metrics=scaled,
                    cv_score=scaled["cv"].get("r2") or scaled["cv"].get("accuracy"),
                    cohort_id=f"cohort-{kind}",
                    features=tuple(f"f{j}" for j in range(i + 2)),
                ),
                kind,
            )
            time.sleep(0.002)
    return out


def test_list_rows_equal_the_brief_records(store: ModelStore, models: dict[str, Any]) -> None:
    page, total = store.list(limit=MAX_PAGE)
    assert total == len(page) == 9
    for row in page:
        assert isinstance(row, ModelSummary)
        assert summary_dict(row) == model_dict(store.get(row.id), brief=True)
    reg = next(r for r in page if r.id == models["QQQ-reg"].id)
    assert (reg.score_name, reg.n_features, dict(reg.metrics)) == ("r2", 4, {"r2": 0.75, "rmse": 6.0, "hit_rate": 1.5})
    odd = next(r for r in page if r.id == models["AAPL-odd"].id)
    assert (odd.score_name, dict(odd.metrics)) == (None, {"r2": 0.9})  # NaN, None and True are not metrics


def test_list_reads_no_json_column(store: ModelStore, models: dict[str, Any]) -> None:
    with statements(store) as sent:
        for sort in ("created_at", "cv_score", "metrics.r2", "cohort_rank"):
            store.list(sort=sort, symbol="AAPL", limit=5)
    joined = "\n".join(sent).lower()
    assert "model_summaries" in joined
    for column in ("feature_details", "regime_importance", "request", "derived", "folds", "hyperparameters"):
        assert column not in joined, column
    assert " models" not in joined and "models." not in joined.replace("model_summaries.", "")


@pytest.mark.parametrize("descending", [True, False])
def test_metric_sort_puts_models_without_it_last_and_pages_through_once(
    store: ModelStore, models: dict[str, Any], descending: bool
) -> None:
    full, total = store.list(sort="metrics.r2", descending=descending, limit=MAX_PAGE)
    with_r2 = [r for r in full if "r2" in r.metrics]
    assert [r.metrics["r2"] for r in with_r2] == sorted((r.metrics["r2"] for r in with_r2), reverse=descending)
    assert len(with_r2) == 6 and all("r2" not in r.metrics for r in full[6:])  # classifiers last
    assert ids(full[6:]) == sorted(ids(full[6:]), reverse=descending)  # by id among them
    for size in (1, 2, 4):
        pages: list[ModelSummary] = []
        for offset in range(0, total + size, size):
            page, page_total = store.list(sort="metrics.r2", descending=descending, limit=size, offset=offset)
            assert page_total == total
            pages.extend(page)
        assert ids(pages) == ids(full)


def test_sorts_with_filters(store: ModelStore, models: dict[str, Any]) -> None:
    aapl, total = store.list(symbol="AAPL", sort="cv_score", limit=MAX_PAGE)
    assert total == 3 and {r.symbol for r in aapl} == {"AAPL"}
    assert [r.cv_score for r in aapl] == [0.6, 0.25, None]  # the odd model has no score: last
    by_rmse, total = store.list(algorithm="algo_reg", sort="metrics.rmse", descending=False)
    assert total == 3 and [r.metrics["rmse"] for r in by_rmse] == [2.0, 4.0, 6.0]
    clf = store.list(algorithm="algo_clf", sort="metrics.r2", limit=2, offset=1)
    assert clf[1] == 3 and len(clf[0]) == 2  # none has r2: all in the second part, by id
    newest = store.list(symbol="MSFT", algorithm="algo_odd")[0]
    assert ids(newest) == [models["MSFT-odd"].id]


def test_page_size_is_capped(store: ModelStore, models: dict[str, Any]) -> None:
    assert store.list(limit=MAX_PAGE)[1] == 9
    with pytest.raises(InvalidInputError, match=rf"limit={MAX_PAGE + 1}: at most {MAX_PAGE} models a page.*offset"):
        store.list(limit=MAX_PAGE + 1)


def _counts(store: ModelStore, table: sa.Table = model_metrics) -> tuple[int, int]:
    with store.database.transaction() as conn:
        summaries = conn.execute(sa.select(sa.func.count()).select_from(model_summaries)).scalar_one()
        other = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return int(summaries), int(other)


def test_list_tables_follow_every_write(store: ModelStore, models: dict[str, Any]) -> None:
    per_model = {"reg": 4, "clf": 3, "odd": 2}  # numeric metrics: cv values, then top-level ones (odd: r2, score)
    assert _counts(store) == (9, 3 * sum(per_model.values()))
    store.set_cohort_ranks("cohort-reg", {models["AAPL-reg"].id: 2, models["MSFT-reg"].id: 1})
    ranked = store.list(cohort_id="cohort-reg", sort="cohort_rank", descending=False)[0]
    assert [r.cohort_rank for r in ranked] == [1, 2, None]
    assert ids(ranked)[:2] == [models["MSFT-reg"].id, models["AAPL-reg"].id]
    store.delete(models["AAPL-reg"].id)
    assert _counts(store) == (8, 3 * sum(per_model.values()) - per_model["reg"])
    assert store.delete_cohort("cohort-clf") == 3
    assert _counts(store) == (5, 2 * per_model["reg"] + 3 * per_model["odd"])
    assert sorted(store.cohort_ids("cohort-odd")) == sorted(models[f"{s}-odd"].id for s in ("AAPL", "MSFT", "QQQ"))
    assert {r.id for r in store.list()[0]} == {
        models[k].id for k in ("MSFT-reg", "QQQ-reg", "AAPL-odd", "MSFT-odd", "QQQ-odd")
    }


# --------------------------------------------------------------------------- metric filters, symbols

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
}


def _satisfies(values: dict[str, float], conditions: tuple[MetricCondition, ...]) -> bool:
    return all(c.name in values and _OPS[c.op](values[c.name], c.value) for c in conditions)


@pytest.mark.parametrize(
    "texts",
    [
        ["r2 > 0.3"],
        ["r2 >= 0.25 and rmse < 5"],
        ["r2 > 0.3", "hit_rate <= 1"],  # repeated: all must hold
        ["accuracy = 1.2"],
        ["f1 > 0 and r2 > 0"],  # no model has both: none
        ["r2 < 100"],  # the classifiers have no r2: never match
    ],
)
def test_metric_filters_keep_exactly_the_models_whose_metrics_satisfy_them(
    store: ModelStore, models: dict[str, Any], texts: list[str]
) -> None:
    conditions = parse_where(texts)
    expected = {r.id for r in models.values() if _satisfies(metric_values(store.get(r.id).metrics), conditions)}
    for sort in ("created_at", "metrics.r2", "metrics.accuracy", "cv_score"):
        page, total = store.list(metric_filters=conditions, sort=sort, limit=MAX_PAGE)
        assert total == len(page) == len(expected) and set(ids(page)) == expected, (texts, sort)
    # Paged one at a time, the filtered, sorted list is the same list, each model once.
    full = store.list(metric_filters=conditions, sort="metrics.r2", limit=MAX_PAGE)[0]
    paged = [
        r
        for offset in range(len(full) + 1)
        for r in store.list(metric_filters=conditions, sort="metrics.r2", limit=1, offset=offset)[0]
    ]
    assert ids(paged) == ids(full)


def test_metric_filters_combine_with_the_other_filters(store: ModelStore, models: dict[str, Any]) -> None:
    page, total = store.list(symbol="MSFT", metric_filters=parse_where(["r2 > 0.3"]), limit=MAX_PAGE)
    assert total == 2 and set(ids(page)) == {models["MSFT-reg"].id, models["MSFT-odd"].id}  # 0.5, and the flat 0.9
    page, total = store.list(algorithm="algo_reg", metric_filters=parse_where(["rmse <= 4"]), sort="metrics.rmse")
    assert total == 2 and [r.metrics["rmse"] for r in page] == [4.0, 2.0]
    with statements(store) as sent:
        store.list(metric_filters=parse_where(["r2 > 0 and rmse > 0"]), sort="metrics.r2", limit=5)
    joined = "\n".join(sent).lower()
    assert "model_metrics" in joined and "feature_details" not in joined and "request" not in joined


def test_symbol_filter_matches_context_symbols(store: ModelStore, models: dict[str, Any]) -> None:
    everything = {r.id for r in models.values()}
    page, total = store.list(symbol="VIX", limit=MAX_PAGE)
    assert total == 9 and set(ids(page)) == everything  # a context symbol of every model
    assert store.list(symbol="VIX", primary_only=True)[1] == 0
    page, total = store.list(symbol="QQQ", limit=MAX_PAGE)
    assert total == 3 and {r.symbol for r in page} == {"QQQ"}
    assert store.list(symbol="QQQ", primary_only=True, limit=MAX_PAGE)[1] == 3
    by_score = store.list(symbol="VIX", sort="cv_score", algorithm="algo_reg")[0]
    assert [r.cv_score for r in by_score] == [0.75, 0.5, 0.25]
    assert store.list(symbol="NVDA")[1] == 0


def test_symbol_rows_follow_every_write(store: ModelStore, models: dict[str, Any]) -> None:
    assert _counts(store, model_symbols) == (9, 18)  # primary + VIX each
    store.delete(models["AAPL-reg"].id)
    assert _counts(store, model_symbols) == (8, 16)
    store.delete_cohort("cohort-clf")
    assert _counts(store, model_symbols) == (5, 10)
    assert store.list(symbol="VIX")[1] == 5


@pytest.mark.parametrize("sort", ["created_at", "cv_score", "metrics.r2", "metrics.rmse", "symbol"])
@pytest.mark.parametrize("descending", [True, False])
def test_pages_are_the_same_whether_membership_is_read_by_in_or_by_exists(
    store: ModelStore, models: dict[str, Any], sort: str, descending: bool
) -> None:
    from walkforward.registry import _page

    cases = [(None, ["r2 > 0.3"]), ("VIX", []), ("QQQ", ["rmse >= 2 and r2 > 0"]), ("VIX", ["accuracy < 2"])]
    for symbol, texts in cases:
        filters = _page.list_filters(symbol=symbol, metric_filters=parse_where(texts))
        for limit, offset in [(MAX_PAGE, 0), (2, 1), (3, 3)]:
            pages = []
            for scan_at in (0, 10**9):  # EXISTS from the first match on / IN always
                query = replace(filters, sort=sort, descending=descending, limit=limit, offset=offset, scan_at=scan_at)
                with store.database.transaction() as conn:
                    pages.append(_page.page_ids(conn, query))
            assert pages[0] == pages[1], (symbol, texts, limit, offset)


def test_a_task_filter_keeps_the_ensembles_of_that_task(store: ModelStore, new_model: NewModelFactory) -> None:
    """An ensemble's algorithm is "ensemble" whatever its members' task: its score says which task it is in."""
    made = {}
    for name, algorithm, metrics in [
        ("reg", "algo_reg", TRAINED),
        ("clf", "algo_clf", CLASSIFIER),
        ("ens-reg", "ensemble", TRAINED),
        ("ens-clf", "ensemble", CLASSIFIER),
    ]:
        made[name] = store.add(new_model(algorithm=algorithm, metrics=metrics), name).id
    regression = store.list(algorithms=["algo_reg"], ensemble_score="r2", limit=MAX_PAGE)
    assert set(ids(regression[0])) == {made["reg"], made["ens-reg"]} and regression[1] == 2
    classification = store.list(algorithms=["algo_clf"], ensemble_score="accuracy", sort="cv_score", limit=MAX_PAGE)
    assert set(ids(classification[0])) == {made["clf"], made["ens-clf"]}
    assert set(ids(store.list(algorithms=["algo_reg"], limit=MAX_PAGE)[0])) == {made["reg"]}  # no score: as before
