"""Training: request -> data -> folds -> fit and evaluate per fold -> final fit -> (explicitly) registry.

The reference's 12-step workflow with its leaks closed: every step that learns (imputation, p-value
pruning, scaling) is inside the pipeline refitted on each fold's training rows; the final model is
fitted on every training row that survives purge and embargo; the artifact is on disk, hashed,
before its registry row is committed. :func:`prepare` and :func:`fit` need no registry;
:func:`register` is the separate step that records a :class:`TrainedModel`; :func:`train` does all three.
"""

from walkforward.request import SearchRequest, TrainRequest
from walkforward.training.data import (
    PreparedData,
    explanation_sample,
    fingerprint_parts,
    inner_splits,
    model_fingerprint,
    prepare,
)
from walkforward.training.fit import TrainedModel, apply_fallback, fit
from walkforward.training.predict import predict
from walkforward.training.run import explain_pipeline, explain_registered, library_versions, register, train

__all__ = [
    "PreparedData",
    "SearchRequest",
    "TrainRequest",
    "TrainedModel",
    "apply_fallback",
    "explain_pipeline",
    "explain_registered",
    "explanation_sample",
    "fit",
    "library_versions",
    "fingerprint_parts",
    "inner_splits",
    "model_fingerprint",
    "predict",
    "prepare",
    "register",
    "train",
]
