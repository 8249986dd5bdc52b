"""Pure splitters (walk-forward folds with purge and embargo)."""

from walkforward.model_selection.plan import default_embargo, plan_folds
from walkforward.model_selection.splitters import (
    FoldPlan,
    boundary_masks,
    final_training_index,
    holdout_folds,
    make_folds,
    walk_forward_folds,
)

__all__ = [
    "FoldPlan",
    "boundary_masks",
    "default_embargo",
    "final_training_index",
    "holdout_folds",
    "make_folds",
    "plan_folds",
    "walk_forward_folds",
]
