"""Pure splitters (walk-forward, purged k-fold, CPCV; purge and embargo) and their scikit-learn cross-validators.

The names are imported on first use (SPEC 1 style), so that importing a light submodule such as
:mod:`~walkforward.model_selection.grids` loads neither scikit-learn nor pandas nor DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walkforward.model_selection.cv import Expanding, Holdout, WalkForward
    from walkforward.model_selection.plan import default_embargo, plan_folds, resolve_embargo
    from walkforward.model_selection.purged_cv import CombinatorialPurgedCV, PurgedKFold
    from walkforward.model_selection.splitters import (
        FoldPlan,
        boundary_masks,
        final_training_index,
        holdout_folds,
        make_folds,
        walk_forward_folds,
    )

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CombinatorialPurgedCV": "walkforward.model_selection.purged_cv",
    "Expanding": "walkforward.model_selection.cv",
    "Holdout": "walkforward.model_selection.cv",
    "PurgedKFold": "walkforward.model_selection.purged_cv",
    "WalkForward": "walkforward.model_selection.cv",
    "default_embargo": "walkforward.model_selection.plan",
    "plan_folds": "walkforward.model_selection.plan",
    "resolve_embargo": "walkforward.model_selection.plan",
    "FoldPlan": "walkforward.model_selection.splitters",
    "boundary_masks": "walkforward.model_selection.splitters",
    "final_training_index": "walkforward.model_selection.splitters",
    "holdout_folds": "walkforward.model_selection.splitters",
    "make_folds": "walkforward.model_selection.splitters",
    "walk_forward_folds": "walkforward.model_selection.splitters",
}

__all__ = [
    "CombinatorialPurgedCV",
    "Expanding",
    "FoldPlan",
    "Holdout",
    "PurgedKFold",
    "WalkForward",
    "boundary_masks",
    "default_embargo",
    "final_training_index",
    "holdout_folds",
    "make_folds",
    "plan_folds",
    "resolve_embargo",
    "walk_forward_folds",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'walkforward.model_selection' has no attribute {name!r}")
