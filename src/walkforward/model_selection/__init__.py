"""Pure splitters (walk-forward folds with purge and embargo) and their scikit-learn cross-validators."""

from walkforward.model_selection.cv import Expanding, Holdout, WalkForward
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
    "Expanding",
    "FoldPlan",
    "Holdout",
    "WalkForward",
    "boundary_masks",
    "default_embargo",
    "final_training_index",
    "holdout_folds",
    "make_folds",
    "plan_folds",
    "walk_forward_folds",
]
