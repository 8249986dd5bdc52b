"""Ensembles of registered models: average, inverse-variance weighting and stacking, chosen by nested walk-forward.

:func:`build_ensemble` is what the CLI (``walkforward ensemble``) and the API (``POST /ensembles``)
call; :mod:`.nested` is the pure computation (which members, weights or meta-model serve each fold,
from earlier folds only); :class:`EnsembleEstimator` is the fitted object an ensemble's artifact holds.
"""

from walkforward.ensembles.build import ENSEMBLE, BuiltEnsemble, base_request, build_ensemble, is_ensemble
from walkforward.ensembles.estimator import EnsembleEstimator, Member
from walkforward.ensembles.nested import FoldChoice, NestedResult, choose, nested
from walkforward.ensembles.request import EnsembleMethod, EnsembleRequest, FirstFold, parse_ensemble

__all__ = [
    "ENSEMBLE",
    "BuiltEnsemble",
    "EnsembleEstimator",
    "EnsembleMethod",
    "EnsembleRequest",
    "FirstFold",
    "FoldChoice",
    "Member",
    "NestedResult",
    "base_request",
    "build_ensemble",
    "choose",
    "is_ensemble",
    "nested",
    "parse_ensemble",
]
