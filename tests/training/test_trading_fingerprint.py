"""Trading settings and duplicate detection: a model's stored net figures are always at its own settings.

Changed trading settings (cost, slippage, lag, long-only, dead band; the probability threshold for
classifiers) are part of the fingerprint and of a search's cohort id; default ones are not, so the
fingerprints of models trained at the defaults are the same as before the settings were covered.
"""

from __future__ import annotations

import pytest

from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.model_selection.fingerprint import fingerprint
from walkforward.registry import ModelStore
from walkforward.request import TRADING_FIELDS, parse
from walkforward.search import SearchRequest, SearchResult, run_search
from walkforward.training import TrainRequest, prepare, train
from walkforward.training.data import cohort_inputs, fingerprint_parts, model_fingerprint, trading_overrides
from walkforward.training.evaluate import evaluate, headline

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", explain=False)
NET = ("sharpe", "net_annual_return", "max_drawdown")


def _req(**kw) -> TrainRequest:
    return parse(TrainRequest, {"algorithm": "elasticnet_regression", **BASE, **kw})


def test_other_costs_make_another_model_whose_figures_are_at_its_costs(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    default = train(_req(), store=planted_store, registry=registry)
    costly_req = _req(cost_bps=25.0)
    costly = train(costly_req, store=planted_store, registry=registry)
    assert costly.id != default.id and costly.fingerprint != default.fingerprint
    assert costly.request["cost_bps"] == 25.0 and default.request["cost_bps"] == 1.0
    # The same fit (same data, folds, hyperparameters): identical forecasts, judged at other costs.
    kept = registry.load_predictions(default)
    assert kept is not None
    assert kept["prediction"].tolist() == registry.load_predictions(costly)["prediction"].tolist()
    at_25 = headline(evaluate(costly_req, kept))
    at_default = headline(evaluate(_req(), kept))
    for key in NET:
        assert costly.metrics["cv"][key] == pytest.approx(at_25[key], nan_ok=True)
        assert default.metrics["cv"][key] == pytest.approx(at_default[key], nan_ok=True)
    assert costly.metrics["cv"]["net_annual_return"] < default.metrics["cv"]["net_annual_return"]
    assert costly.metrics["cv"]["r2"] == default.metrics["cv"]["r2"]  # the model itself is the same
    # The same request again is the registered one, at either cost.
    assert train(_req(cost_bps=25.0), store=planted_store, registry=registry).id == costly.id
    assert train(_req(), store=planted_store, registry=registry).id == default.id
    assert registry.list()[1] == 2


def test_default_trading_settings_leave_the_fingerprint_as_before(planted_store: FeatureStore) -> None:
    req = _req()
    data = prepare(req, store=planted_store)
    parts = fingerprint_parts(req, data)
    assert "trading" not in parts and not trading_overrides(req)
    # Defaults spelled out are the defaults: the same fingerprint as a request that never named them.
    explicit = _req(**{k: TrainRequest.model_fields[k].default for k in TRADING_FIELDS})
    assert model_fingerprint(explicit, data, {}) == model_fingerprint(req, data, {})
    assert model_fingerprint(req, data, {}) == fingerprint({**parts, "hyperparameters": {}})
    # Each setting, changed alone, changes the fingerprint.
    changed = {"cost_bps": 25.0, "slippage_bps": 3.0, "execution_lag": 2, "long_only": True, "dead_band": 0.001}
    seen = {model_fingerprint(req, data, {})}
    for key, value in changed.items():
        other = _req(**{key: value})
        assert trading_overrides(other) == {key: value}
        seen.add(model_fingerprint(other, data, {}))
    assert len(seen) == 1 + len(changed)
    # A regressor's figures do not depend on the probability threshold: not covered for it.
    assert model_fingerprint(_req(probability_threshold=0.6), data, {}) == model_fingerprint(req, data, {})
    classifier = parse(TrainRequest, {"algorithm": "lightgbm_classifier", **BASE, "probability_threshold": 0.6})
    assert trading_overrides(classifier) == {"probability_threshold": 0.6}


def test_a_search_at_other_costs_is_a_cohort_of_its_own(planted_store: FeatureStore, registry: ModelStore) -> None:
    grids = {"alpha_grid": [0.001, 0.01]}

    def search(**kw: float) -> SearchResult:
        sreq = SearchRequest(
            algorithm="elasticnet_regression", search="grid", grids=grids, save_all_grid_models=True, **BASE, **kw
        )
        assert cohort_inputs(sreq).get("trading") == (kw or None)
        return run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))

    first = search()
    second = search(cost_bps=25.0)
    assert second.cohort_id != first.cohort_id
    assert (second.existing, second.trained) == (0, first.trained)  # not "already exists" at other costs
    siblings = registry.cohort(second.cohort_id)
    assert len(siblings) == len(registry.cohort(first.cohort_id)) == first.grid_size
    assert {r.request["cost_bps"] for r in siblings} == {25.0}  # siblings share their trading settings
    assert {r.request["cost_bps"] for r in registry.cohort(first.cohort_id)} == {1.0}
    again = search(cost_bps=25.0)
    assert (again.cohort_id, again.existing, again.trained) == (second.cohort_id, first.grid_size, 0)
