"""Time one short fit, so that a dry run can say how long a search would take.

:func:`prepared_run` does what every search does first (load the data, fingerprint the
combinations, fit each fold's preprocessing) and times it; :func:`calibrate` then fits the grid's
median configuration on one fold, at one round and at up to :data:`CALIBRATION_ROUNDS`
rounds, and keeps the two timings as a fixed and a per-(rounds x leaves) cost
(:class:`~walkforward.search.plan.Calibration`). A linear path is timed once as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from walkforward.features.store import FeatureStore
from walkforward.model_selection.evaluators import PreparedFold, predict_grid
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.request import SearchRequest
from walkforward.search.plan import Calibration
from walkforward.search.run import SearchRun
from walkforward.search.tasks import unit_cost, units

#: Most rounds of the timed fit.
CALIBRATION_ROUNDS = 50
#: The timed fit's rounds stop growing once they add this many seconds to a one-round fit.
PROBE_SECONDS = 0.25


def prepared_run(
    sreq: SearchRequest, *, store: FeatureStore, registry: ModelStore, n_jobs: int
) -> tuple[SearchRun, float]:
    """A search run with its data and fold preprocessing ready (nothing trained), and the seconds it took."""
    started = time.perf_counter()
    run = SearchRun(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs))
    run.shared(with_final=False)  # the folds' preprocessing, cached on the run
    return run, time.perf_counter() - started


def median_configuration(grid: dict[str, list[Any]], fixed: dict[str, Any]) -> dict[str, Any]:
    """Each grid parameter at the middle of its values (sorted where they compare), over the fixed ones."""
    out = dict(fixed)
    for name, values in grid.items():
        try:
            ordered = sorted(values)
        except TypeError:  # None among numbers (a forest's max_depth): keep the grid's own order
            ordered = list(values)
        out[name] = ordered[(len(ordered) - 1) // 2]
    return out


def _timed(run: SearchRun, combos: Sequence[dict[str, Any]], fold: PreparedFold, repeat: int = 2) -> float:
    """The shortest of ``repeat`` timings: other processes only ever add time (as ``timeit`` advises)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        predict_grid(run.spec, combos, fold)
        best = min(best, time.perf_counter() - started)
    return best


def calibrate(run: SearchRun, prepare_seconds: float) -> Calibration:
    """Fit the median configuration on the fold of median size and time it (about 1-2 s in all)."""
    spec, folds = run.spec, run.shared(with_final=False).folds
    fold = sorted(folds, key=lambda f: len(f.y_train))[len(folds) // 2]
    rows = len(fold.y_train)
    combo = median_configuration(run.grid, {k: v for k, v in run.combos[0].items() if k not in run.grid})
    name = spec.rounds_param
    shown = {k: combo[k] for k in run.grid}  # the grid point timed (the fixed parameters are the run's)
    if name is None:  # one unit of work (an elastic net's whole path, or one fit) timed as a whole
        index = next((i for i, c in enumerate(run.combos) if c == combo), 0)
        unit = next(u for u in units(spec, list(enumerate(run.combos))) if any(i == index for i, _ in u))
        combos = [c for _, c in unit]
        _timed(run, combos[:1], fold, repeat=1)  # warm-up: imports and caches are not the search's cost
        seconds = _timed(run, combos, fold)
        return Calibration(prepare_seconds, seconds, seconds, 0.0, rows, None, shown)
    full = int(combo.get(name) or 100)
    _timed(run, [{**combo, name: 1}], fold, repeat=1)  # warm-up
    t_one = _timed(run, [{**combo, name: 1}], fold)  # the fixed cost (binning, one round, predicting)
    # Rounds grow 4x until a fit takes PROBE_SECONDS (or the cap): a slope measured over a few
    # milliseconds would be noise, and one over many seconds would make the dry run slow.
    rounds, t_cal = 1, t_one
    while rounds < min(CALIBRATION_ROUNDS, full) and t_cal - t_one < PROBE_SECONDS:
        rounds = min(CALIBRATION_ROUNDS, full, rounds * 4)
        t_cal = _timed(run, [{**combo, name: rounds}], fold, repeat=1)
    t_cal = min(t_cal, _timed(run, [{**combo, name: rounds}], fold, repeat=1))
    c_one = unit_cost([(0, {**combo, name: 1})], rows)
    c_cal = unit_cost([(0, {**combo, name: rounds})], rows)
    if rounds == 1 or t_cal <= t_one:  # no slope to measure (or noise hid it): all of it per round
        return Calibration(prepare_seconds, t_cal, 0.0, t_cal / c_cal, rows, rounds, {**shown, name: rounds})
    per_cost = (t_cal - t_one) / (c_cal - c_one)
    intercept = max(t_one - per_cost * c_one, 0.0)
    return Calibration(prepare_seconds, t_cal, intercept, per_cost, rows, rounds, {**shown, name: rounds})
