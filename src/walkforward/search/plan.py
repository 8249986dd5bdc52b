"""A search's plan before the work: grid size, strategy, configurations and fits per fidelity, and a time.

:func:`plan_search` is pure: from the request, the run's combinations and what is already registered
or scored (the trials table), it says what the search would score, with the same functions the
strategies use (halving's own :func:`~walkforward.search.halving.halving_plan`, the tasks' own
:func:`~walkforward.search.tasks.units`). A *fit* is one configuration scored on one fold; a
*training* is one model trained on one fold (configurations that differ only in their round count,
or an elastic net's alpha, share one).

:func:`estimate_seconds` turns a plan and a :class:`Calibration` (one configuration timed on one
fold, :mod:`walkforward.search.calibrate`) into an estimated wall time; :func:`dry_run` does it all
for a request (CLI ``--dry-run``, API ``POST /train?dry_run=true``) without training or saving.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.models.catalog import AlgorithmSpec
from walkforward.request import SearchRequest, SearchStrategy
from walkforward.search.halving import halving_plan, rung_items
from walkforward.search.tasks import Item, unit_cost, units

if TYPE_CHECKING:
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelStore

log = logging.getLogger(__name__)

#: The estimate's range is [estimate / spread, estimate x spread]: one calibration fit on a shared
#: machine is no better (measured: actual / estimated 0.7-1.8 on a loaded 2-core machine).
ESTIMATE_SPREAD = 1.5

#: Seconds a local pool of worker processes takes to start and import the boosters (measured on 2 cores).
POOL_START_SECONDS = 1.5


@dataclass(frozen=True)
class Fidelity:
    """One level of the search: how many configurations run it, at what fraction of their rounds."""

    label: str
    fraction: float
    configurations: int
    fits: int  # configurations x folds
    trainings: int  # models trained: configurations sharing one booster / path count once (per fold)
    #: configurations whose cost stands for this level's (the exact ones where they are known)
    sample: tuple[Item, ...] = field(default=(), repr=False, compare=False)
    shared: bool = field(default=True, repr=False, compare=False)  # group ``sample`` into units


@dataclass(frozen=True)
class Calibration:
    """What one short timed fit measured, for :func:`estimate_seconds`."""

    prepare_seconds: float  # loading data, fingerprints, the folds' preprocessing: paid once by the run
    fit_seconds: float  # the timed fit at ``rounds`` (one fold)
    intercept: float  # seconds per fold fit whatever its size
    per_cost: float  # seconds per unit of :func:`~walkforward.search.tasks.unit_cost` (trees x leaves)
    rows: int  # training rows of the timed fold
    rounds: int | None
    params: dict[str, Any]


@dataclass(frozen=True)
class Estimate:
    """The estimated wall time, and a range: on a loaded 2-core machine the actual time was 0.7-1.8x it."""

    seconds: float
    low: float
    high: float
    text: str
    calibration: Calibration


@dataclass(frozen=True)
class SearchPlan:
    """What a search would do; ``to_dict()`` is the dry run's JSON (CLI ``--json`` and the API)."""

    algorithm: str
    search: str  # as asked
    strategy: str  # as it would run (auto resolved)
    grid_size: int
    folds: int
    fold_rows: tuple[int, ...]  # training rows per fold
    final_rows: int
    registered: int
    scored_before: int
    configurations: int
    fidelities: tuple[Fidelity, ...]
    final_fits: int
    n_jobs: int
    budget: str | None
    notes: tuple[str, ...]
    estimate: Estimate | None = None

    @property
    def fits(self) -> int:
        return sum(f.fits for f in self.fidelities)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("fidelities", "estimate", "fold_rows")}
        out["fidelities"] = [
            {k: getattr(f, k) for k in ("label", "fraction", "configurations", "fits", "trainings")}
            for f in self.fidelities
        ]
        out["fits"] = self.fits
        out["notes"] = list(self.notes)
        est = self.estimate
        out["estimate"] = None
        if est is not None:
            cal = est.calibration
            out["estimate"] = {
                **{k: round(getattr(est, k), 1) for k in ("seconds", "low", "high")},
                "text": est.text,
                "calibration": asdict(cal),
            }
        return out


def _trainings(spec: AlgorithmSpec, items: Sequence[Item], n_folds: int) -> int:
    return len(units(spec, items)) * n_folds


def plan_search(
    sreq: SearchRequest,
    combos: Sequence[dict[str, Any]],
    *,
    fold_rows: Sequence[int],
    final_rows: int,
    registered: Collection[int],
    scored_before: Collection[int],
    n_jobs: int,
) -> SearchPlan:
    """The plan of ``sreq`` over ``combos`` (the run's, adaptive grid applied); no data is touched.

    ``registered`` and ``scored_before`` are indices into ``combos``: registered models are not trained
    again, and full-fidelity scores in the trials table are not recomputed (the grid's rules).
    """
    spec, strategy, n_folds = sreq.spec, sreq.strategy(), len(fold_rows)
    items = list(enumerate(combos))
    missing = [it for it in items if it[0] not in registered]
    notes: list[str] = []
    if sreq.search == SearchStrategy.AUTO:
        notes.append(
            f"search=auto: {strategy.value} for {len(combos):,} combinations "
            f"(halving above {sreq.auto_threshold:,} for boosters and forests)"
        )
    fidelities: list[Fidelity] = []
    if strategy == SearchStrategy.GRID:
        todo = [it for it in missing if it[0] not in scored_before]
        fidelities.append(
            Fidelity("full", 1.0, len(todo), len(todo) * n_folds, _trainings(spec, todo, n_folds), tuple(todo))
        )
        configurations = len(todo)
        final = len(missing) if sreq.save_all_grid_models else min(1, len(missing))
    elif strategy == SearchStrategy.HALVING:
        sched = halving_plan(spec, combos, sreq.max_configs)
        params = dict(enumerate(combos))
        alive = sorted(sched.units)
        rungs = sched.rungs
        for level, rung in enumerate(rungs):
            sample = rung_items(spec, rung, params, alive, sched)
            # a unit (configurations differing only in rounds) is one training; the full rung scores its members
            n = rung.configurations
            last = level == len(rungs) - 1
            configs = round(n * len(sample) / max(len(alive), 1)) if last else n
            trainings = _trainings(spec, sample, n_folds) if level == 0 else n * n_folds  # later: at most
            label = f"rung {level + 1}/{len(rungs)}"
            fidelities.append(
                Fidelity(label, rung.fraction, configs, configs * n_folds, trainings, tuple(sample), level == 0)
            )
        configurations = sched.configurations
        final = fidelities[-1].configurations if sreq.save_all_grid_models else 1
        if sched.sampled:
            notes.append(f"halving samples {configurations:,} of {len(combos):,} configurations (max_configs)")
        notes.append(
            "halving takes rung scores found in the trials table (a stopped run's); saving skips registered models"
        )
    else:
        n = min(sreq.n_trials, len(combos))
        fidelities.append(Fidelity("full", 1.0, n, n * n_folds, n * n_folds, tuple(items), False))
        configurations = n
        final = n if sreq.save_all_grid_models else 1
        notes.append(
            f"optuna: an upper bound of {n} trials at full fidelity (a pruner stops some early; trials of "
            "registered combinations reuse their score)"
        )
    budget = sreq.search_budget()
    if budget is not None and budget.fits is not None and budget.fits < sum(f.fits for f in fidelities):
        notes.append(
            f"budget {budget.text}: the search stops after about {budget.fits:,} fits and saves the best so far"
        )
    return SearchPlan(
        algorithm=spec.name,
        search=sreq.search.value,
        strategy=strategy.value,
        grid_size=len(combos),
        folds=n_folds,
        fold_rows=tuple(int(r) for r in fold_rows),
        final_rows=int(final_rows),
        registered=len(registered),
        scored_before=len(scored_before),
        configurations=configurations,
        fidelities=tuple(fidelities),
        final_fits=final,
        n_jobs=1 if spec.family == "linear" else n_jobs,  # linear paths run in-process (see SearchRun.run_tasks)
        budget=sreq.budget,
        notes=tuple(notes),
    )


def _fold_seconds(spec: AlgorithmSpec, cal: Calibration, unit: Sequence[Item]) -> float:
    """Seconds to train one unit on the calibration fold."""
    return cal.intercept + cal.per_cost * (unit_cost(unit, cal.rows) if spec.rounds_param else 0.0)


def _level_seconds(spec: AlgorithmSpec, cal: Calibration, level: Fidelity, rows: float) -> float:
    if not level.sample or not level.configurations:
        return 0.0
    groups = units(spec, level.sample) if level.shared else [[it] for it in level.sample]
    total = sum(_fold_seconds(spec, cal, u) for u in groups)
    return total * level.configurations / len(level.sample) * rows


def estimate_seconds(plan: SearchPlan, spec: AlgorithmSpec, cal: Calibration) -> Estimate:
    """Wall time: preparation + the levels' fits (scaled by rounds x leaves and fold rows) over the
    workers + the saved models' final fits. One calibration fit decides it: a rough figure."""
    rows = sum(plan.fold_rows) / max(cal.rows, 1)  # fit time grows about linearly with the rows
    work = sum(_level_seconds(spec, cal, level, rows) for level in plan.fidelities)
    full = plan.fidelities[-1]
    per_final = _level_seconds(spec, cal, full, plan.final_rows / max(cal.rows, 1)) / max(full.configurations, 1)
    parallel = plan.n_jobs > 1 and work > 0
    seconds = cal.prepare_seconds + work / plan.n_jobs + plan.final_fits * per_final
    seconds += POOL_START_SECONDS if parallel else 0.0
    what = f"{cal.rounds} rounds" if cal.rounds else "one configuration"
    low, high = seconds / ESTIMATE_SPREAD, seconds * ESTIMATE_SPREAD
    text = (
        f"~{_duration(seconds)}, likely {_duration(low)} to {_duration(high)} (estimate from one calibration "
        f"fit of {cal.fit_seconds:.2f} s at {what} on {cal.rows:,} rows, {plan.n_jobs} worker(s); "
        "explanations not included)"
    )
    return Estimate(seconds, low, high, text, cal)


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{max(s, 1)} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def dry_run(sreq: SearchRequest, *, store: FeatureStore, registry: ModelStore, n_jobs: int) -> SearchPlan:
    """The plan and its estimate for ``sreq``; reads data and times one short fit, trains and saves nothing."""
    from walkforward.search.calibrate import calibrate, prepared_run

    if sreq.search == SearchStrategy.NONE:
        raise InvalidInputError("a dry run plans a search: set search to auto, grid, halving or optuna")
    run, prepare_seconds = prepared_run(sreq, store=store, registry=registry, n_jobs=n_jobs)
    adaptive = tuple(run.notes)  # the adaptive grid, if it applied
    existing = registry.existing_fingerprints(run.fps)
    registered = {i for i, fp in enumerate(run.fps) if fp in existing}
    missing = [(i, c) for i, c in enumerate(run.combos) if i not in registered]
    scored = {i for i, _ in missing} - {i for i, _ in run.scored_before(missing)}
    data = run.data
    plan = plan_search(
        sreq,
        run.combos,
        fold_rows=[len(f.train_index) for f in data.plan.folds],
        final_rows=len(data.plan.final_train_index),
        registered=registered,
        scored_before=scored,
        n_jobs=n_jobs,
    )
    notes = (*adaptive, *plan.notes, *_busy(n_jobs))
    try:
        cal = calibrate(run, prepare_seconds)
    except WalkforwardError:
        raise
    except Exception as exc:  # the plan stands without a time; the search itself would report this fit's error
        log.warning("dry run: the calibration fit failed: %s", exc)
        return replace(plan, notes=(*notes, f"no estimate: the calibration fit failed ({type(exc).__name__}: {exc})"))
    return replace(plan, notes=notes, estimate=estimate_seconds(plan, sreq.spec, cal))


def _busy(n_jobs: int) -> tuple[str, ...]:
    """A note when other processes already use the cores the estimate counts on."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if n_jobs <= 1 or load < cores:
        return ()
    return (
        f"the machine is busy (load {load:.1f} on {cores} cores): the estimate assumes {n_jobs} workers get their "
        "cores, and will be low",
    )
