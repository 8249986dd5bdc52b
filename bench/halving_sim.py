"""Tuning aid for multi-fidelity search: every reference configuration scored at every round count.

One booster per configuration and fold, trained to 200 rounds, scores every smaller count from its
first rounds (the shared-booster evaluator), so a successive-halving variant (minimum rounds, eta,
promotion rule) can be replayed offline in milliseconds: which configurations each rung would keep,
the rounds it would spend, and its pick's regret on the full-fidelity ranking. Run after
``bench_scale.py`` built the markets:

    .venv/bin/python bench/halving_sim.py --seeds 7,8,9
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from typing import Any

import numpy as np
from bench_scale import ALGORITHM, reference_run
from joblib import Parallel, delayed
from scale_market import OUT

ROUNDS = sorted({*range(1, 10), *range(10, 60, 2), *range(60, 201, 5), 200})


def _score_config(params: dict[str, Any], sh: Any) -> list[list[float]]:
    from walkforward.model_selection.evaluators import predict_rounds
    from walkforward.models.catalog import get_algorithm
    from walkforward.search.tasks import fold_metrics

    spec = get_algorithm(ALGORITHM)
    per_fold = [predict_rounds(spec, params, fold, ROUNDS) for fold in sh.folds]
    out = []
    for k in ROUNDS:
        metrics = fold_metrics(spec, sh, [per_fold[f][k] for f in range(len(sh.folds))])
        out.append([float(m["r2"]) for m in metrics])
    return out


def staged_scores(seed: int) -> dict[str, Any]:
    cache = OUT / f"staged-{seed}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    workdir = OUT / "sim"
    workdir.mkdir(parents=True, exist_ok=True)
    run = reference_run(seed, workdir)
    sh = run.shared(with_final=False)
    print(f"seed {seed}: scoring {len(run.combos)} configurations at {len(ROUNDS)} round counts", file=sys.stderr)
    scores = Parallel(n_jobs=2, verbose=5)(delayed(_score_config)(c, sh) for c in run.combos)
    data = {"rounds": ROUNDS, "combos": run.combos, "fps": run.fps, "scores": scores}
    cache.write_text(json.dumps(data))
    return data


def simulate(
    data: dict[str, Any], min_rounds: int, eta: int, exponent: float, full: int = 200
) -> tuple[float, float, int]:
    """(rounds spent / exhaustive, normalised regret, rank) of halving with these settings.

    Uses halving's own rungs, rate weights and stratified promotion (:mod:`walkforward.search.halving`);
    a rung's round count is looked up at the nearest staged count.
    """
    from walkforward.search.halving import plan_rungs, promote, rate_weights

    rounds, combos = data["rounds"], data["combos"]
    score = [[float(np.mean(s)) for s in cfg] for cfg in data["scores"]]
    final = [s[rounds.index(full)] for s in score]
    weights = rate_weights(combos, exponent) if exponent else {}
    rungs = plan_rungs(len(combos), full, eta=eta, min_rounds=min_rounds)
    params = dict(enumerate(combos))
    alive, spent = list(range(len(combos))), 0
    for level, rung in enumerate(rungs):
        if level == len(rungs) - 1:
            spent += len(alive) * full
            break
        scored = {}
        for i in alive:
            k = max(1, min(full, math.ceil(full * rung.fraction * weights.get(repr(combos[i]["learning_rate"]), 1.0))))
            j = min(range(len(rounds)), key=lambda j: abs(rounds[j] - k))
            spent += rounds[j]
            scored[i] = score[i][j]
        alive = promote(scored, params, rungs[level + 1].configurations)
    pick = max(alive, key=lambda i: final[i])
    best, median = max(final), statistics.median(final)
    regret = (best - final[pick]) / (best - median) if best > median else 0.0
    return spent / (len(combos) * full), regret, 1 + sum(v > final[pick] + 1e-12 for v in final)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="7,8,9")
    a = parser.parse_args()
    datas = {int(s): staged_scores(int(s)) for s in a.seeds.split(",")}
    print("regret/rank/rounds per seed; halving's defaults: eta 3, min_rounds 4, exponent 0.5", file=sys.stderr)
    for eta in (3, 4):
        for min_rounds in (2, 4, 8):
            for exponent in (0.0, 0.25, 0.5, 1.0):
                rows = [simulate(d, min_rounds, eta, exponent) for d in datas.values()]
                cost = statistics.median(r[0] for r in rows)
                reg = statistics.median(r[1] for r in rows)
                detail = " ".join(f"{r[1]:.2f}/{r[2]}/{r[0]:.0%}" for r in rows)
                print(
                    f"eta {eta} min_rounds {min_rounds:>2} rate exponent {exponent:<4} rounds {cost:6.1%} "
                    f"regret {reg:.3f}  per seed {detail}"
                )


if __name__ == "__main__":
    main()
