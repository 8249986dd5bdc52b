"""A search run: its combinations and fingerprints, the cached folds, and what it scored and saved.

- The preprocessing (impute, prune, scale) does not depend on the estimator's hyperparameters: it is
  fitted once per fold on the fold's training rows, and every combination is scored on the cached
  matrices (the spec's fast evaluator: an elastic-net path, boosters on data binned once per fold).
- Every combination has a fingerprint; those already registered are skipped ("12/56 already exist,
  training 44"), and the registry's unique constraint makes racing searches save each model once.
- With ``save_all_grid_models`` every combination is registered as soon as it is done (a killed
  search resumes with what is missing); otherwise only the best.
- Every scored combination's fold metrics go to the registry's trials table as they arrive (one
  commit per task's results, and one when the tasks end or fail), best-only searches included,
  so a killed search run again scores only what is missing ("40/56 scored before (trials), scoring 16").
- Strategies (:mod:`walkforward.search.strategies`) propose and score combinations; this run owns the state.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from walkforward.errors import WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.evaluators import PreparedFold, prepare_fold
from walkforward.model_selection.executors import Executor, LocalExecutor
from walkforward.model_selection.fingerprint import fingerprint
from walkforward.model_selection.grids import combinations
from walkforward.preprocessing.pipeline import pruning_report, request_pipeline
from walkforward.registry import FULL_FIDELITY, DuplicateModelError, ModelRecord, ModelStore, TrialMeta, TrialStore
from walkforward.request import SearchRequest
from walkforward.search.budget import TIMED_TASK_UNITS, BudgetClock
from walkforward.search.selection import search_selection
from walkforward.search.tasks import MAX_UNITS, Item, Outcome, Shared, chunks, evaluate_chunk
from walkforward.search.trial_log import TrialLog
from walkforward.training import data as training_data
from walkforward.training.clusters import with_cluster_importance
from walkforward.training.data import explanation_sample, fingerprint_parts, inner_splits, model_fingerprint, prepare
from walkforward.training.evaluate import evaluated
from walkforward.training.fit import TrainedModel, summarize
from walkforward.training.run import register

log = logging.getLogger(__name__)

SearchProgress = Callable[[int, int, float | None, str], None]
_DEAD_WORKER = ("TerminatedWorkerError", "KilledWorker", "BrokenProcessPool")


@dataclass
class SearchResult:
    """What a search did: the cohort, the models it saved, what it skipped, and an honest best score."""

    cohort_id: str
    strategy: str
    grid_size: int
    tried: int
    existing: int
    trained: int
    saved: list[ModelRecord]
    duplicates: int
    best: ModelRecord | None
    selection: dict[str, Any]
    notes: list[str]
    complete: bool = True  # False: the budget stopped the search (its pick is from what was scored)


def _max_abs_correlation(X: pd.DataFrame, y: np.ndarray) -> float:
    corr = X.corrwith(pd.Series(y, index=X.index)).abs()
    return float(corr.max()) if corr.notna().any() else 0.0


class SearchRun(TrialLog):
    """One search's state; strategies call :meth:`run_tasks`, :meth:`record`, :meth:`save` and :meth:`save_best`."""

    def __init__(
        self,
        sreq: SearchRequest,
        *,
        store: FeatureStore,
        registry: ModelStore,
        executor: Executor,
        progress: SearchProgress | None = None,
    ) -> None:
        self.budget = BudgetClock(sreq.search_budget())  # the clock starts before the data is read
        self.sreq = sreq
        self.spec = sreq.spec
        self.registry = registry
        self.executor = executor
        self.progress = progress
        self.notes: list[str] = []
        self.data = prepare(sreq, store=store, registry=registry)
        self.strategy = sreq.strategy()  # auto resolved once
        self.grid = sreq.grid()
        self._adapt_grid()
        fixed = self.spec.params(sreq.hyperparameters)
        self.combos = [{**fixed, **c} for c in combinations(self.grid)]
        parts = fingerprint_parts(sreq, self.data)  # once: only the hyperparameters differ
        self.fps = [model_fingerprint(sreq, self.data, c, parts=parts) for c in self.combos]
        self.cohort_id = fingerprint(
            {
                "cohort": training_data.cohort_inputs(sreq),  # trading settings only where changed: old cohort ids hold
                "data": self.data.data_hash,
                "features": list(self.data.features),
                "grid": self.grid,
                "fixed": fixed,
                "search": self.strategy.value,
                "n_trials": sreq.n_trials if self.strategy == "optuna" else None,
                "max_configs": sreq.max_configs if self.strategy == "halving" else None,
            }
        )[:24]
        self.scores: dict[int, float] = {}
        self.fold_metrics: dict[int, list[dict[str, Any]]] = {}
        self.oos: dict[int, np.ndarray] = {}  # scored combinations' predictions, all folds (float32)
        self._folds: tuple[PreparedFold, ...] | None = None
        self.saved: list[ModelRecord] = []
        self.duplicates = 0
        self.trained = 0
        self.trials = TrialStore(registry.database)
        self.trial_known: set[int] = set()  # combinations whose scores came from the trials table
        # Trials waiting to be written, by fidelity then fingerprint, and what the full-fidelity ones were.
        self._pending: dict[str, dict[str, tuple[list[dict[str, Any]], float]]] = {}
        self._pending_meta: dict[str, TrialMeta] = {}
        self._in_tasks = False

    def _adapt_grid(self) -> None:
        """The spec's adaptive grid (the reference's reduced alphas), measured on training rows only."""
        rule = self.spec.adaptive_grid
        names = {v: k for k, v in self.spec.grid_names.items()}
        if rule is None or names.get(rule.param) in self.sreq.grids or not self.sreq.use_default_grid:
            return
        rows = self.data.plan.final_train_index
        max_corr = _max_abs_correlation(self.data.X.iloc[rows], self.data.y[rows])
        if max_corr < rule.below:
            self.grid[rule.param] = list(rule.values)
            self.notes.append(
                f"adaptive grid: max |correlation| with the target on training rows is {max_corr:.4f} "
                f"< {rule.below}; {rule.param} reduced to {list(rule.values)}"
            )

    # -- inputs shared by every task
    def shared(self, *, with_final: bool) -> Shared:
        data, spec = self.data, self.spec
        pre = request_pipeline(spec.build(), linear=spec.family == "linear", req=self.sreq)[:-1]
        X, y = data.X, data.y
        ref = data.dataset.frame[self.sreq.target_col].to_numpy(dtype=float)
        extra: dict[str, Any] = {}
        with threadpool_limits(limits=1, user_api="blas"):
            if self._folds is None:  # preprocessing is fitted once per fold for the whole search
                self._folds = tuple(
                    prepare_fold(pre, X, y, f.train_index, f.test_index, f.number, inner=inner)
                    for f, inner in zip(data.plan.folds, inner_splits(self.sreq, data), strict=True)
                )
            if with_final:
                rows = data.plan.final_train_index
                final_pre = clone(pre).fit(X.iloc[rows], y[rows])
                explain_X, explain_y = explanation_sample(data)
                extra = {
                    "final_pre": final_pre,
                    "final_X": final_pre.transform(X.iloc[rows]),
                    "final_y": y[rows],
                    "explain_X": explain_X,
                    "explain_y": explain_y,
                    "explain": self.sreq.explain,
                }
        return Shared(
            algorithm=spec.name,
            transform=self.sreq.target_transform,
            folds=self._folds,
            refs=tuple(ref[f.test_index] for f in data.plan.folds),
            known=dict(self.fold_metrics),
            **extra,
        )

    @property
    def out_of_budget(self) -> bool:
        """Whether the search's ``--budget`` is spent: strategies start nothing new once it is."""
        return self.budget.spent

    def run_tasks(
        self, items: list[Item], sh: Shared, on_outcome: Callable[[Outcome], None], *, budgeted: bool = True
    ) -> bool:
        """Score ``items`` on the executor, calling ``on_outcome`` as each is done; False if the budget cut it short.

        Under a budget (``budgeted``, the default; saving the best is not) the items go in a seeded
        random order, a fits budget starts only the configurations it can pay for, and once the budget
        is spent the task stream is closed: nothing new starts, tasks in flight are abandoned (the
        executor stops their workers), and every outcome received so far has been recorded.
        """
        executor = self.executor
        if self.spec.family == "linear" and executor.name == "local":
            # A linear path costs milliseconds; a worker process costs seconds of start-up and copying.
            executor = LocalExecutor(n_jobs=1)
        # Tasks travel with the known fold metrics of their own items only (a resumed search may know thousands).
        sh = replace(sh, known={i: sh.known[i] for i, _ in items if i in sh.known})
        clock = self.budget if budgeted else BudgetClock(None)
        asked = len(items)
        items = clock.admit(items, sh.known, len(sh.folds))
        timed = clock.budget is not None and clock.budget.seconds is not None
        tasks = chunks(self.spec, items, executor.n_jobs, max_units=TIMED_TASK_UNITS if timed else MAX_UNITS)
        received = 0
        self._in_tasks = True
        stream = executor.map_unordered(evaluate_chunk, tasks, sh) if items else iter(())
        try:
            for outcomes in stream:
                for o in outcomes:
                    if budgeted and o.index not in sh.known:
                        self.budget.spend(len(sh.folds))
                    on_outcome(o)
                self.flush_trials()  # a task's scores together, before anything else can kill the run
                received += len(outcomes)
                if received < len(items) and clock.spent:
                    break
        except WalkforwardError:
            raise
        except Exception as exc:
            kind = type(exc).__name__
            if kind in _DEAD_WORKER:
                raise WalkforwardError(
                    f"a search worker died ({kind}: {exc}); models finished so far are saved. "
                    "Rerun the same search to train only what is missing (use fewer workers if memory ran out)"
                ) from None
            raise
        finally:  # what was scored before a failure, an interrupt or the budget's end is kept
            if isinstance(stream, Generator):
                with warnings.catch_warnings():  # joblib warns of the tasks it cancels: here that is the point
                    warnings.filterwarnings("ignore", message=r".*tasks which were still being processed")
                    stream.close()  # abandons unfinished tasks (joblib stops its workers; Dask cancels)
            self._in_tasks = False
            self.flush_trials()
        complete = received == asked
        if not complete:
            clock.stop()
        return complete

    # -- bookkeeping
    def record(self, o: Outcome) -> None:
        """Keep a scored combination's score (and its fold metrics, unless a fallback replaced them).

        New fold metrics are also queued for the trials table: written with the rest of their task's
        results during tasks (see :meth:`run_tasks`), at once otherwise.
        """
        score = summarize(o.fold_metrics, self.spec.score_key)[1]
        self.scores[o.index] = score  # insertion order: the trial order (see :meth:`save`)
        if o.predictions is not None:
            self.oos[o.index] = np.concatenate(o.predictions).astype(np.float32)
        if o.fallback is None:
            self.fold_metrics[o.index] = o.fold_metrics
            if o.index not in self.trial_known:
                self.queue_trial(FULL_FIDELITY, o.index, o.fold_metrics, score)
                return
        if not self._in_tasks:
            self.flush_trials()

    def best_so_far(self) -> float | None:
        return max(self.scores.values()) if self.scores else None

    def tick(self, done: int, total: int, msg: str) -> None:
        if self.progress:
            self.progress(done, total, self.best_so_far(), msg)

    def save(self, o: Outcome) -> None:
        """Register one fitted outcome through the same path as a single training run."""
        assert o.pipeline is not None
        metrics, score = summarize(o.fold_metrics, self.spec.score_key)
        grid_point = {k: v for k, v in o.params.items() if k in self.grid or k in self.sreq.hyperparameters}
        request = self.sreq.training().model_copy(update={"hyperparameters": grid_point})
        predictions = evaluated(request, self.data, o.predictions, metrics)
        trained = TrainedModel(
            request=request,
            data=self.data,
            pipeline=o.pipeline,
            metrics=metrics,
            cv_score=score,
            selected=[str(c) for c in o.pipeline.named_steps["prune"].get_feature_names_out()],
            pruning=pruning_report(o.pipeline, self.data.features),
            hyperparameters=o.params,
            fitted_estimator=type(o.pipeline[-1]).__name__,
            fallback=o.fallback,
            predictions=predictions,
        )
        # "trial": the combination's position in the order this run scored them (the explore view's history).
        trial = list(self.scores).index(o.index) if o.index in self.scores else None
        search = {"strategy": self.strategy.value, "grid": self.grid, "grid_size": len(self.combos), "trial": trial}
        try:
            record = register(
                trained,
                registry=self.registry,
                fingerprint=self.fps[o.index],
                cohort_id=self.cohort_id,
                search=search,
                explanations=(o.feature_details, o.regime_importance, with_cluster_importance(o, self.data, self.sreq)),
            )
        except DuplicateModelError as exc:
            self.duplicates += 1  # another search saved this very model first: keep theirs
            log.info("model already saved by another run: %s", exc.existing_id)
            return
        self.saved.append(record)

    def save_best(self, candidates: list[int]) -> None:
        """Fit, explain and register the given combinations (those not already registered)."""
        existing = self.registry.existing_fingerprints([self.fps[i] for i in candidates])
        todo = [(i, self.combos[i]) for i in candidates if self.fps[i] not in existing]
        if todo:  # the best found is saved even when the budget is spent
            self.run_tasks(todo, self.shared(with_final=True), self.save, budgeted=False)

    def ranked(self) -> list[int]:
        return sorted(self.scores, key=lambda i: -self.scores[i])

    # -- the result
    def result(self, existing: int) -> SearchResult:
        registry, cohort_id = self.registry, self.cohort_id
        cohort = registry.cohort(cohort_id)
        if cohort:
            ranked = sorted(cohort, key=lambda r: -(r.cv_score if r.cv_score is not None else -np.inf))
            registry.set_cohort_ranks(cohort_id, {r.id: i + 1 for i, r in enumerate(ranked)})
            cohort = registry.cohort(cohort_id)
        tried = {self.fps[i] for i in self.scores}
        # Combinations registered before by a single run or another cohort were skipped, not lost:
        # their records compete for the best.
        outside = self.registry.existing_fingerprints(set(self.fps) - tried - {r.fingerprint for r in cohort})
        elsewhere = [r for fp in sorted(outside) if (r := registry.get_by_fingerprint(fp)) is not None]
        candidates = cohort[:1]
        if self.scores:  # the best tried combination may be registered by another cohort (found by fingerprint)
            top = registry.get_by_fingerprint(self.fps[self.ranked()[0]])
            candidates += [top] if top is not None else []
        candidates += elsewhere
        scored = [r for r in candidates if r.cv_score is not None]
        best = max(scored, key=lambda r: r.cv_score or 0.0) if scored else (cohort[0] if cohort else None)
        return SearchResult(
            cohort_id=cohort_id,
            strategy=self.strategy.value,
            grid_size=len(self.combos),
            tried=len(self.scores),
            existing=existing,
            trained=self.trained,
            saved=self.saved,
            duplicates=self.duplicates,
            best=best,
            selection=search_selection(self),
            notes=self.notes,
            complete=not self.budget.stopped,
        )
