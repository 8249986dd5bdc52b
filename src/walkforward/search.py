"""Hyperparameter search over walk-forward folds, without waste.

- The preprocessing (impute, prune, scale) does not depend on the estimator's hyperparameters: it is
  fitted once per fold on the fold's training rows, and every combination is scored on the cached
  matrices (the elastic net along its regularisation path, boosters on data binned once per fold).
- Every combination has a fingerprint; those already registered are skipped ("12/56 already exist,
  training 44"), and the registry's unique constraint makes racing searches save each model once.
- With ``save_all_grid_models`` every combination is registered as soon as it is done (a killed
  search resumes with what is missing); otherwise only the best.
- Strategies: the exhaustive grid, successive halving (scikit-learn's HalvingGridSearchCV) and
  Bayesian search (Optuna's TPE sampler), by name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.domain import TargetTransform
from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.evaluation.metrics import aggregate, classification_metrics, regression_metrics
from walkforward.features.store import FeatureStore
from walkforward.model_selection.evaluators import PreparedFold, predict_grid, prepare_fold
from walkforward.model_selection.executors import Executor, LocalExecutor, make_executor
from walkforward.model_selection.fingerprint import fingerprint
from walkforward.model_selection.grids import (
    ADAPTIVE_ALPHAS,
    ADAPTIVE_CORRELATION,
    combinations,
    grid_size,
    resolve_grid,
)
from walkforward.models.catalog import AlgorithmSpec, get_algorithm
from walkforward.preprocessing.pipeline import build_pipeline, pruning_report
from walkforward.registry import DuplicateModelError, ModelRecord, ModelStore
from walkforward.training import (
    FitResult,
    PreparedData,
    TrainRequest,
    explanation_sample,
    model_fingerprint,
    prepare,
    register,
)

log = logging.getLogger(__name__)

STRATEGIES = ("grid", "halving", "optuna")
SearchProgress = Callable[[int, int, float | None, str], None]


@dataclass(frozen=True)
class SearchRequest:
    """A search: a base training request, grid values by the reference's names, and how to search."""

    train: TrainRequest
    grids: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    search: str = "grid"
    n_trials: int = 40
    save_all_grid_models: bool = False
    explain: bool = True
    use_default_grid: bool = True
    executor: str = "local"
    scheduler: str | None = None
    n_jobs: int | None = None

    def validate(self) -> AlgorithmSpec:
        spec = self.train.validate()
        if self.search not in STRATEGIES:
            raise InvalidInputError(f"unknown search {self.search!r}: use one of {', '.join(STRATEGIES)}")
        if self.n_trials < 1:
            raise InvalidInputError(f"invalid n_trials {self.n_trials}: use a whole number >= 1")
        resolve_grid(self.train.algorithm, self.grids, use_defaults=self.use_default_grid)
        return spec


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


# ---------------------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _Shared:
    """What every task needs (scattered once to a Dask cluster, memory-mapped to loky workers)."""

    algorithm: str
    task: str
    family: str
    transform: str
    folds: tuple[PreparedFold, ...]
    refs: tuple[np.ndarray, ...]  # the current price on each fold's test rows (for price-unit metrics)
    final_pre: Pipeline | None  # preprocessing fitted on all training rows
    final_X: pd.DataFrame | None  # final_pre's output on the training rows
    final_y: np.ndarray | None
    explain_X: pd.DataFrame | None  # raw out-of-sample rows for permutation importance / SHAP
    explain_y: np.ndarray | None
    explain: bool
    known: Mapping[int, list[dict[str, Any]]] = field(default_factory=dict)  # fold metrics already scored


@dataclass(frozen=True)
class _Outcome:
    index: int
    params: dict[str, Any]
    fold_metrics: list[dict[str, Any]]
    pipeline: Pipeline | None = None
    fallback: dict[str, Any] | None = None
    feature_details: dict[str, Any] | None = None
    regime_importance: dict[str, Any] | None = None
    explain_info: dict[str, Any] | None = None


def _fold_metrics(sh: _Shared, preds: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    out = []
    transform = TargetTransform(sh.transform)
    for fold, ref, pred in zip(sh.folds, sh.refs, preds, strict=True):
        if sh.task == "classification":
            m = classification_metrics(fold.y_test, (pred >= 0.5).astype(np.int64), pred)
        else:
            m = regression_metrics(fold.y_test, pred, ref, transform)
        out.append({"fold": fold.number, **m})
    return out


def _evaluate_chunk(chunk: Sequence[tuple[int, dict[str, Any]]], sh: _Shared) -> list[_Outcome]:
    """Score a chunk of combinations on every fold; with ``sh.final_pre`` also fit and explain them."""
    spec = get_algorithm(sh.algorithm)
    todo = [(i, p) for i, p in chunk if i not in sh.known]
    with threadpool_limits(limits=1, user_api="blas"):
        per_fold = [predict_grid(spec, [p for _, p in todo], fold) for fold in sh.folds] if todo else []
        scored = {
            index: _fold_metrics(sh, [per_fold[f][j] for f in range(len(sh.folds))])
            for j, (index, _) in enumerate(todo)
        }
        outcomes = []
        for index, combo in chunk:
            metrics = sh.known[index] if index in sh.known else scored[index]
            if sh.final_pre is None:
                outcomes.append(_Outcome(index, combo, metrics))
                continue
            assert sh.final_X is not None and sh.final_y is not None
            estimator = spec.build(combo).fit(sh.final_X, sh.final_y)
            fallback = None
            if spec.name == "elasticnet_regression" and not np.any(getattr(estimator, "coef_", 1.0)):
                # The reference's OLS fallback, recorded, and scored honestly on the same folds.
                ols = get_algorithm("linear_regression")
                ols_preds = [predict_grid(ols, [{}], fold)[0] for fold in sh.folds]
                fallback = {"reason": "elastic net zeroed every coefficient", "elasticnet_folds": metrics}
                metrics = _fold_metrics(sh, ols_preds)
                estimator = LinearRegression().fit(sh.final_X, sh.final_y)
            pipe = Pipeline([*clone_fitted_steps(sh.final_pre), ("model", estimator)])
            details = regimes = info = None
            if sh.explain and sh.explain_X is not None and sh.explain_y is not None:
                from walkforward.evaluation.importance import explain

                try:
                    details, regimes, info = explain(pipe, sh.explain_X, sh.explain_y, task=sh.task, family=sh.family)
                except Exception as exc:  # explanations must never lose a trained model
                    log.warning("explanations failed for %s %s: %s", sh.algorithm, combo, exc)
                    info = {"error": str(exc)}
            outcomes.append(_Outcome(index, combo, metrics, pipe, fallback, details, regimes, info))
    return outcomes


def clone_fitted_steps(pre: Pipeline) -> list[tuple[str, Any]]:
    """The fitted preprocessing steps, shared by reference (they are never refitted after this)."""
    return [(name, step) for name, step in pre.steps]


# ---------------------------------------------------------------------------------------------- helpers


def _score_key(task: str) -> str:
    return "accuracy" if task == "classification" else "r2"


def _max_abs_correlation(data: PreparedData) -> float:
    rows = data.plan.final_train_index
    X = data.X.iloc[rows]
    y = pd.Series(data.y[rows], index=X.index)
    corr = X.corrwith(y).abs()
    return float(corr.max()) if corr.notna().any() else 0.0


def _adaptive_grid(sreq: SearchRequest, data: PreparedData, grid: dict[str, list[Any]], notes: list[str]) -> None:
    """The reference's adaptive elastic-net grid, measured on training rows only."""
    if sreq.train.algorithm != "elasticnet_regression" or "alpha_grid" in sreq.grids:
        return
    max_corr = _max_abs_correlation(data)
    if max_corr < ADAPTIVE_CORRELATION:
        grid["alpha"] = list(ADAPTIVE_ALPHAS)
        notes.append(
            f"adaptive grid: max |correlation| with the target on training rows is {max_corr:.4f} "
            f"< {ADAPTIVE_CORRELATION}; alphas reduced to {ADAPTIVE_ALPHAS}"
        )


def expected_max_standard_normal(n: int) -> float:
    """E[max of n independent standard normals], Bailey & Lopez de Prado's approximation.

    Written out because no maintained library ships it; it is two normal quantiles.
    """
    if n <= 1:
        return 0.0
    gamma = 0.5772156649015329  # Euler-Mascheroni
    return float((1 - gamma) * stats.norm.ppf(1 - 1.0 / n) + gamma * stats.norm.ppf(1 - 1.0 / (n * math.e)))


def selection_summary(scores: Sequence[float], best_fold_scores: Sequence[float], *, task: str) -> dict[str, Any]:
    """How much of the best CV score survives the number of combinations tried.

    ``deflated_score`` subtracts what the luckiest of ``n`` draws would score if every combination
    were equally good (the spread of the cohort's scores times E[max of n normals]).
    ``p_value_adjusted`` is the best model's one-sided t-test across folds against no skill (R2 = 0,
    or accuracy = 0.5), Sidak-adjusted for the ``n`` combinations tried.
    """
    arr = np.asarray([s for s in scores if s is not None and np.isfinite(s)], dtype=float)
    n = int(arr.size)
    out: dict[str, Any] = {"n_tried": n}
    if n == 0:
        return out
    best = float(arr.max())
    spread = float(arr.std(ddof=1)) if n > 1 else 0.0
    e_max = expected_max_standard_normal(n)
    out.update(
        best=best,
        mean=float(arr.mean()),
        std=spread,
        expected_max_luck=spread * e_max,
        deflated_score=best - spread * e_max,
    )
    folds = np.asarray(best_fold_scores, dtype=float)
    null = 0.5 if task == "classification" else 0.0
    if folds.size >= 2 and folds.std(ddof=1) > 0:
        t = (folds.mean() - null) / (folds.std(ddof=1) / math.sqrt(folds.size))
        p = float(stats.t.sf(t, df=folds.size - 1))
        out.update(t_stat=float(t), p_value=p, p_value_adjusted=float(1.0 - (1.0 - p) ** n))
    return out


def cohort_selection(rows: Sequence[ModelRecord]) -> dict[str, Any]:
    """The selection summary of a registered cohort (best first): its scores and the best's folds."""
    if not rows:
        return {"n_tried": 0}
    key = rows[0].metrics.get("score", "r2")
    best_folds = [float(m[key]) for m in rows[0].metrics.get("folds", []) if key in m]
    scores = [r.cv_score for r in rows if r.cv_score is not None]
    return selection_summary(scores, best_folds, task="classification" if key == "accuracy" else "regression")


def _chunks(spec: AlgorithmSpec, items: list[tuple[int, dict[str, Any]]], n_workers: int) -> list[list[Any]]:
    """Tasks: an elastic net chunk is one path (all alphas of one l1_ratio); others make 2 tasks per worker.

    Few, large tasks: every task carries the cached folds to its worker, and a worker's first task
    pays for its imports.
    """
    if spec.name == "elasticnet_regression":
        groups: dict[str, list[Any]] = {}
        for item in items:
            key = repr(sorted((k, v) for k, v in item[1].items() if k != "alpha"))
            groups.setdefault(key, []).append(item)
        return list(groups.values())
    n_tasks = max(1, min(len(items), 2 * n_workers))

    def cost(item: tuple[int, dict[str, Any]]) -> float:  # boosting time grows with trees and leaves
        p = item[1]
        return float(p.get("n_estimators") or 100) * float(p.get("num_leaves") or 2 ** (p.get("max_depth") or 5))

    ordered = sorted(items, key=cost, reverse=True)  # longest first, dealt round robin
    return [ordered[i::n_tasks] for i in range(n_tasks)]


# ---------------------------------------------------------------------------------------------- search


class _Search:
    def __init__(
        self, sreq: SearchRequest, store: FeatureStore, registry: ModelStore, progress: SearchProgress | None
    ) -> None:
        self.sreq = sreq
        self.spec = sreq.validate()
        self.registry = registry
        self.progress = progress
        self.notes: list[str] = []
        self.data = prepare(sreq.train, store=store, registry=registry)
        self.grid = resolve_grid(sreq.train.algorithm, sreq.grids, use_defaults=sreq.use_default_grid)
        _adaptive_grid(sreq, self.data, self.grid, self.notes)
        fixed = {**self.spec.defaults, **sreq.train.hyperparameters}
        self.combos = [{**fixed, **c} for c in combinations(self.grid)]
        self.fps = [model_fingerprint(sreq.train, self.data, c) for c in self.combos]
        base = {k: v for k, v in sreq.train.to_dict().items() if k != "hyperparameters"}
        self.cohort_id = fingerprint(
            {
                "cohort": base,
                "data": self.data.data_hash,
                "features": list(self.data.features),
                "grid": self.grid,
                "fixed": fixed,
                "search": sreq.search,
                "n_trials": sreq.n_trials if sreq.search == "optuna" else None,
            }
        )[:24]
        self.scores: dict[int, float] = {}
        self.fold_scores: dict[int, list[float]] = {}
        self.fold_metrics: dict[int, list[dict[str, Any]]] = {}
        self._folds: tuple[PreparedFold, ...] | None = None
        self.saved: list[ModelRecord] = []
        self.duplicates = 0
        self.trained = 0

    # -- shared inputs
    def shared(self, with_final: bool) -> _Shared:
        data, spec = self.data, self.spec
        pre = build_pipeline(
            spec.build(), linear=spec.family == "linear", p_value_threshold=self.sreq.train.p_value_threshold
        )[:-1]
        X, y = data.X, data.y
        ref = data.dataset.frame[self.sreq.train.target_col].to_numpy(dtype=float)
        with threadpool_limits(limits=1, user_api="blas"):
            if self._folds is None:  # preprocessing is fitted once per fold for the whole search
                self._folds = tuple(
                    prepare_fold(pre, X, y, f.train_index, f.test_index, f.number) for f in data.plan.folds
                )
            folds = self._folds
            final_pre = final_X = final_y = explain_X = explain_y = None
            if with_final:
                rows = data.plan.final_train_index
                final_pre = clone(pre).fit(X.iloc[rows], y[rows])
                final_X = final_pre.transform(X.iloc[rows])
                final_y = y[rows]
                explain_X, explain_y = explanation_sample(data)
        return _Shared(
            algorithm=spec.name,
            task=spec.task,
            family=spec.family,
            transform=self.sreq.train.target_transform,
            folds=folds,
            refs=tuple(ref[f.test_index] for f in data.plan.folds),
            final_pre=final_pre,
            final_X=final_X,
            final_y=final_y,
            explain_X=explain_X,
            explain_y=explain_y,
            explain=self.sreq.explain,
            known=dict(self.fold_metrics),
        )

    def run_tasks(
        self,
        executor: Executor,
        items: list[tuple[int, dict[str, Any]]],
        sh: _Shared,
        on_outcome: Callable[[_Outcome], None],
    ) -> None:
        tasks = _chunks(self.spec, items, getattr(executor, "n_jobs", 2) or 2)
        if self.spec.family == "linear" and executor.name == "local":
            # A linear path costs milliseconds; a worker process costs seconds of start-up and copying.
            executor = LocalExecutor(n_jobs=1)
        try:
            for outcomes in executor.map_unordered(_evaluate_chunk, tasks, sh):
                for o in outcomes:
                    on_outcome(o)
        except WalkforwardError:
            raise
        except Exception as exc:
            kind = type(exc).__name__
            if kind in ("TerminatedWorkerError", "KilledWorker", "BrokenProcessPool"):
                raise WalkforwardError(
                    f"a search worker died ({kind}: {exc}); models finished so far are saved. "
                    "Rerun the same search to train only what is missing (use fewer workers if memory ran out)"
                ) from None
            raise

    def score_of(self, o: _Outcome) -> float:
        agg = aggregate([{k: v for k, v in m.items() if k != "fold"} for m in o.fold_metrics])
        return float(agg[_score_key(self.spec.task)])

    def record(self, o: _Outcome) -> None:
        key = _score_key(self.spec.task)
        self.scores[o.index] = self.score_of(o)
        self.fold_scores[o.index] = [float(m[key]) for m in o.fold_metrics]
        if o.fallback is None:
            self.fold_metrics[o.index] = o.fold_metrics

    def best_so_far(self) -> float | None:
        return max(self.scores.values()) if self.scores else None

    def register(self, o: _Outcome) -> None:
        """Register one outcome through the same path as a single training run."""
        assert o.pipeline is not None
        agg = aggregate([{k: v for k, v in m.items() if k != "fold"} for m in o.fold_metrics])
        key = _score_key(self.spec.task)
        fit = FitResult(
            pipeline=o.pipeline,
            fold_metrics=o.fold_metrics,
            metrics={"folds": o.fold_metrics, "cv": agg, "score": key},
            cv_score=float(agg[key]),
            selected=[str(c) for c in o.pipeline.named_steps["prune"].get_feature_names_out()],
            pruning=pruning_report(o.pipeline, self.data.features),
            hyperparameters=o.params,
        )
        extra: dict[str, Any] = {
            "hyperparameters": o.params,
            "search": {"strategy": self.sreq.search, "grid": self.grid, "grid_size": len(self.combos)},
        }
        if o.fallback:
            extra["ols_fallback"] = o.fallback
        try:
            record = register(
                self.sreq.train,
                self.data,
                fit,
                registry=self.registry,
                fp=self.fps[o.index],
                cohort_id=self.cohort_id,
                extra=extra,
                explanations=(o.feature_details, o.regime_importance, o.explain_info),
            )
        except DuplicateModelError as exc:
            self.duplicates += 1  # another search saved this very model first: keep theirs
            log.info("model already saved by another run: %s", exc.existing_id)
            return
        self.saved.append(record)

    def tick(self, done: int, total: int, msg: str) -> None:
        if self.progress:
            self.progress(done, total, self.best_so_far(), msg)


def run_search(
    sreq: SearchRequest,
    *,
    store: FeatureStore,
    registry: ModelStore,
    progress: SearchProgress | None = None,
    executor: Executor | None = None,
) -> SearchResult:
    """Run a search and register its models (all, or the best); see the module docstring."""
    s = _Search(sreq, store, registry, progress)
    existing = registry.existing_fingerprints(s.fps)
    missing = [(i, c) for i, c in enumerate(s.combos) if s.fps[i] not in existing]
    msg = f"{len(s.combos) - len(missing)}/{len(s.combos)} already exist, training {len(missing)}"
    log.info("%s (cohort %s)", msg, s.cohort_id)
    s.notes.append(msg)
    own = executor is None
    executor = executor or make_executor(sreq.executor, scheduler=sreq.scheduler, n_jobs=sreq.n_jobs)
    try:
        if sreq.search == "grid":
            _grid(s, executor, missing)
        elif sreq.search == "halving":
            _halving(s, executor, missing)
        else:
            _optuna(s, executor, existing)
    finally:
        if own:
            executor.close()
    cohort = registry.cohort(s.cohort_id)
    if cohort:
        ranked = sorted(cohort, key=lambda r: -(r.cv_score if r.cv_score is not None else -np.inf))
        registry.set_cohort_ranks(s.cohort_id, {r.id: i + 1 for i, r in enumerate(ranked)})
        cohort = registry.cohort(s.cohort_id)
    all_scores = list(s.scores.values()) + [
        r.cv_score for r in cohort if r.cv_score is not None and r.fingerprint not in {s.fps[i] for i in s.scores}
    ]
    best = cohort[0] if cohort else None
    if s.scores:  # the best tried combination may be registered by another cohort (found by fingerprint)
        top = registry.get_by_fingerprint(s.fps[max(s.scores, key=lambda i: s.scores[i])])
        if top is not None and (best is None or (top.cv_score or -np.inf) > (best.cv_score or -np.inf)):
            best = top
    best_folds = [float(m[_score_key(s.spec.task)]) for m in best.metrics.get("folds", [])] if best else []
    selection = selection_summary([x for x in all_scores if x is not None], best_folds, task=s.spec.task)
    return SearchResult(
        cohort_id=s.cohort_id,
        strategy=sreq.search,
        grid_size=len(s.combos),
        tried=len(s.scores),
        existing=len(s.combos) - len(missing),
        trained=s.trained,
        saved=s.saved,
        duplicates=s.duplicates,
        best=best,
        selection=selection,
        notes=s.notes,
    )


def _save_best(s: _Search, executor: Executor, candidates: list[int]) -> None:
    """Fit, explain and register the given combinations (not already registered)."""
    existing = s.registry.existing_fingerprints([s.fps[i] for i in candidates])
    todo = [(i, s.combos[i]) for i in candidates if s.fps[i] not in existing]
    if not todo:
        return
    sh = s.shared(with_final=True)
    s.run_tasks(executor, todo, sh, lambda o: s.register(o))


def _grid(s: _Search, executor: Executor, missing: list[tuple[int, dict[str, Any]]]) -> None:
    total = len(missing)
    save_all = s.sreq.save_all_grid_models
    sh = s.shared(with_final=save_all)
    done = 0
    s.tick(0, total, "grid")

    def on_outcome(o: _Outcome) -> None:
        nonlocal done
        s.record(o)
        s.trained += 1
        if save_all:
            s.register(o)
        done += 1
        s.tick(done, total, "grid")

    s.run_tasks(executor, missing, sh, on_outcome)
    if not save_all and s.scores:
        best = max(s.scores, key=lambda i: s.scores[i])
        _save_best(s, executor, [best])


def _halving(s: _Search, executor: Executor, missing: list[tuple[int, dict[str, Any]]]) -> None:
    """Successive halving with scikit-learn's HalvingGridSearchCV on the full pipeline."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    if not missing:
        return
    spec, data = s.spec, s.data
    pipe = build_pipeline(
        spec.build(s.combos[0]), linear=spec.family == "linear", p_value_threshold=s.sreq.train.p_value_threshold
    )
    index_of = {repr(sorted(c.items())): i for i, c in missing}
    param_grid = [{f"model__{k}": [v] for k, v in c.items()} for _, c in missing]
    cv = [(f.train_index, f.test_index) for f in data.plan.folds]
    n_jobs = getattr(executor, "n_jobs", None) if executor.name == "local" else -1
    search = HalvingGridSearchCV(
        pipe,
        param_grid,
        cv=cv,
        scoring=_score_key(spec.task),
        factor=3,
        refit=False,
        random_state=0,
        n_jobs=n_jobs,
        error_score="raise",
    )
    s.tick(0, len(missing), "halving")
    with threadpool_limits(limits=1, user_api="blas"):
        if executor.name == "dask":
            from joblib import parallel_backend

            with parallel_backend("dask"):
                search.fit(data.X, data.y)
        else:
            search.fit(data.X, data.y)
    res = search.cv_results_
    last = int(np.max(res["iter"]))
    finalists = []
    for params, it, score in zip(res["params"], res["iter"], res["mean_test_score"], strict=True):
        if it == last:
            combo = {k.removeprefix("model__"): v for k, v in params.items()}
            i = index_of[repr(sorted(combo.items()))]
            s.scores[i] = float(score)
            finalists.append(i)
    fits = int(sum(n * len(cv) for n in search.n_candidates_))
    weighted = float(sum(n * r for n, r in zip(search.n_candidates_, search.n_resources_, strict=True)))
    exhaustive_fits = len(missing) * len(cv)
    s.notes.append(
        f"halving: {fits} fits of {exhaustive_fits} exhaustive ({fits / exhaustive_fits:.1%}); "
        f"{weighted / (len(missing) * search.max_resources_):.1%} of the exhaustive training rows; "
        f"{len(search.n_candidates_)} rounds, {len(finalists)} finalist(s) on all rows"
    )
    s.trained = len(missing)
    s.tick(len(missing), len(missing), "halving")
    ranked = sorted(finalists, key=lambda i: -s.scores[i])
    _save_best(s, executor, ranked if s.sreq.save_all_grid_models else ranked[:1])
    for o_i in ranked:  # the fully evaluated scores replace the halving estimates
        rec = s.registry.get_by_fingerprint(s.fps[o_i])
        if rec is not None and rec.cv_score is not None:
            s.scores[o_i] = rec.cv_score


def _optuna(s: _Search, executor: Executor, existing: set[str]) -> None:
    """Bayesian search (TPE) over the grid's values; registered combinations are not re-evaluated."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    sh = s.shared(with_final=False)
    keys = sorted(s.grid)
    index_of = {repr(sorted(c.items())): i for i, c in enumerate(s.combos)}
    fixed = {k: v for k, v in s.combos[0].items() if k not in s.grid}
    n = min(s.sreq.n_trials, len(s.combos))

    def objective(trial: optuna.Trial) -> float:
        combo = {**fixed, **{k: trial.suggest_categorical(k, s.grid[k]) for k in keys}}
        i = index_of[repr(sorted(combo.items()))]
        if i in s.scores:
            return s.scores[i]
        if s.fps[i] in existing:
            rec = s.registry.get_by_fingerprint(s.fps[i])
            if rec is not None and rec.cv_score is not None:
                s.scores[i] = rec.cv_score
                return rec.cv_score
        (o,) = _evaluate_chunk([(i, s.combos[i])], sh)
        s.record(o)
        s.trained += 1
        s.tick(len(s.scores), n, "optuna")
        return s.scores[i]

    study.optimize(objective, n_trials=n)
    ranked = sorted(s.scores, key=lambda i: -s.scores[i])
    _save_best(s, executor, ranked if s.sreq.save_all_grid_models else ranked[:1])


def search_defaults(algorithm: str) -> dict[str, Any]:
    """The default grid of an algorithm with its size, for help texts and the API."""
    grid = resolve_grid(algorithm, None)
    return {"grid": grid, "size": grid_size(grid)}


__all__ = [
    "STRATEGIES",
    "SearchRequest",
    "SearchResult",
    "run_search",
    "search_defaults",
    "cohort_selection",
    "selection_summary",
]
