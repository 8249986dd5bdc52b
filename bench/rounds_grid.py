"""Let a LightGBM / XGBoost search take ``n_estimators_grid``, for the benches only.

The catalog names ``n_estimators_grid`` for random forests only: a booster's round count can be set
(``--param n_estimators=200``) but not searched. Issue 9's 4 num_leaves x 4 n_estimators grid needs
it, so :func:`allow_rounds_grid` adds the name to the booster specs of this process (the worker
processes need nothing: the combinations they get carry ``n_estimators``). This module imports
nothing heavy, so a CLI run wrapped by it (:data:`CLI_PRELUDE`) starts as fast as the plain one.
"""

from __future__ import annotations

import dataclasses

BOOSTERS = ("lightgbm_regressor", "lightgbm_classifier", "xgboost_regressor", "xgboost_classifier")
GRID_NAME = "n_estimators_grid"

#: ``python -c`` code that runs the CLI with the booster specs patched (``sys.argv[1:]`` are its arguments).
CLI_PRELUDE = (
    "import sys; from rounds_grid import allow_rounds_grid; allow_rounds_grid(); "
    "sys.argv[0] = 'walkforward'; from walkforward.cli import main; main()"
)


def allow_rounds_grid() -> None:
    """Map ``n_estimators_grid`` to ``n_estimators`` in every booster spec of this process (idempotent)."""
    from walkforward.models.catalog import ALGORITHMS

    for name in BOOSTERS:
        spec = ALGORITHMS[name]
        if GRID_NAME not in spec.grid_names:
            ALGORITHMS[name] = dataclasses.replace(spec, grid_names={**spec.grid_names, GRID_NAME: "n_estimators"})
