"""Is the best of N configurations better than luck? Statistics over a search's out-of-sample returns.

Computed from the T x N matrix of daily net returns of every configuration a search scored (from
their kept out-of-sample predictions, traded under the request's rules):

- **PBO** by CSCV (Bailey, Borwein, López de Prado & Zhu, *J. Computational Finance* 2017):
  :func:`walkforward.evaluation.pbo.backtest_overfitting`, S = 16 blocks by default (fewer when
  there are too few sessions: at least 2 sessions per block, an even count, >= 4, said in ``notes``).
- **DSR** (Bailey & López de Prado 2014) of the best configuration on the per-observation daily
  Sharpe: :func:`walkforward.evaluation.deflated.deflated_sharpe_ratio`, p = 1 - DSR.
- **SPA** (Hansen 2005, with White's Reality Check as the upper bound):
  :func:`walkforward.evaluation.spa.spa_test`, studentized, on each configuration's daily net
  return against a flat benchmark (0), stationary bootstrap, a block length of at least the
  target's horizon in sessions and at least T^(1/3); lower, consistent and upper p-values.

The old "deflated score" (the cohort's score spread times E[max of N normals], and a t-test over
a few fold scores) mixed real differences between configurations into the luck term; it is gone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: bootstrap replications of the SPA test (p-values to about +-0.015 at 0.05)
SPA_REPS = 1000


def _blocks_for(sessions: int, wanted: int = 16) -> int | None:
    """The most CSCV blocks <= ``wanted`` with >= 2 sessions each (even, >= 4), or None if too few."""
    n = min(wanted, sessions // 2)
    n -= n % 2
    return n if n >= 4 else None


def spa_test(daily: np.ndarray, *, block_size: int, reps: int = SPA_REPS, seed: int = 0) -> dict[str, Any]:
    """Hansen's SPA test that some configuration beats staying flat: p-values (lower, consistent, upper)."""
    from walkforward.evaluation.spa import spa_test as spa

    return spa(daily, block_size=block_size, reps=reps, seed=seed).to_dict()


def selection_statistics(
    daily: np.ndarray,
    *,
    horizon_sessions: float = 1.0,
    n_blocks: int = 16,
    seed: int = 0,
    selected: int | None = None,
) -> dict[str, Any]:
    """PBO, DSR and SPA for a T x N matrix of daily net returns (sessions x configurations).

    ``selected`` is the configuration the search picked (default: the best daily Sharpe). Figures
    that cannot be computed (one configuration, too few sessions) are absent and ``notes`` says why.
    """
    from walkforward.evaluation.deflated import deflated_sharpe_ratio
    from walkforward.evaluation.pbo import backtest_overfitting

    r = np.nan_to_num(np.asarray(daily, dtype=float), nan=0.0)
    t, n = r.shape if r.ndim == 2 else (0, 0)
    out: dict[str, Any] = {"n_tried": n, "n_sessions": t, "notes": []}
    if n == 0 or t < 3:
        out["notes"].append(f"{t} session(s) of {n} configuration(s): too few for selection statistics")
        return out
    dsr = deflated_sharpe_ratio(r, selected=selected)
    out["dsr"] = dsr.to_dict()
    out["best_sharpe_annual"] = dsr.sharpe * math.sqrt(252)
    if n < 2:
        out["notes"].append("one configuration: no selection to correct for (PBO and SPA need several)")
        return out
    blocks = _blocks_for(t, n_blocks)
    if blocks is None:
        out["notes"].append(f"{t} sessions are too few for CSCV (at least 8): no PBO")
    else:
        if blocks < n_blocks:
            out["notes"].append(f"PBO with {blocks} blocks ({t} sessions are too few for {n_blocks})")
        out["pbo"] = backtest_overfitting(r, n_blocks=blocks).to_dict()
    block_size = max(1, math.ceil(horizon_sessions), round(t ** (1 / 3)))
    spa = spa_test(r, block_size=block_size, seed=seed)
    if spa["n_tested"] == 0:
        out["notes"].append("no configuration's daily return varies (none traded): no SPA")
        return out
    if spa["n_constant"]:
        out["notes"].append(f"SPA over {spa['n_tested']}: {spa['n_constant']} never traded (constant returns)")
    out["spa"] = spa
    return out


def headline(stats: dict[str, Any]) -> dict[str, float | None]:
    """The three numbers a table shows: PBO, the DSR p-value and the SPA consistent p-value."""
    return {
        "pbo": stats.get("pbo", {}).get("pbo"),
        "dsr_p": stats.get("dsr", {}).get("p_value"),
        "spa_p": stats.get("spa", {}).get("p_consistent"),
    }
