"""Ensembles of registered models: average, inverse-variance weighting and stacking, chosen by nested walk-forward.

:func:`build_ensemble` is what the CLI (``walkforward ensemble``) and the API (``POST /ensembles``)
call; :mod:`.nested` is the pure computation (which members, weights or meta-model serve each fold,
from earlier folds only; import ``nested`` from it); :class:`EnsembleEstimator` is the fitted object an
ensemble's artifact holds. Only the request is imported eagerly: ``walkforward --help`` must not load
numpy, so the rest are lazy names (as Scientific Python's SPEC 1 describes).
"""

from __future__ import annotations

import importlib
from typing import Any

from walkforward.ensembles.request import EnsembleMethod, EnsembleRequest, FirstFold, parse_ensemble

_LAZY = {
    "ENSEMBLE": "build",
    "BuiltEnsemble": "build",
    "base_request": "build",
    "build_ensemble": "build",
    "is_ensemble": "build",
    "EnsembleEstimator": "estimator",
    "Member": "estimator",
    "FoldChoice": "nested",
    "NestedResult": "nested",
    "choose": "nested",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"walkforward.ensembles.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EnsembleMethod", "EnsembleRequest", "FirstFold", "parse_ensemble", *_LAZY]
