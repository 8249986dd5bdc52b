"""Build, evaluate and register an ensemble of registered models (the I/O around :mod:`.nested`).

The members' kept out-of-sample predictions are combined fold by fold (each fold's members and
weights chosen on earlier folds only), scored by the same metric and trading code as any model, and
registered with algorithm ``ensemble``: the method, K and the first-fold policy in its
hyperparameters, the candidates and each fold's choice in ``request["ensemble"]`` and
``derived["ensemble"]``, ``parent_model_id`` null (an ensemble has several parents; the lineage
query lists them as ``members``), a fingerprint made of the candidates' fingerprints, the method, K
and the policy (building it again returns the registered one), its own kept predictions, and an
artifact whose pipeline is an :class:`~walkforward.ensembles.estimator.EnsembleEstimator`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walkforward.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.ensembles.request import EnsembleRequest
    from walkforward.registry import ModelRecord, ModelStore
    from walkforward.request import TrainRequest

log = logging.getLogger(__name__)

#: the ``algorithm`` of an ensemble's registry row
ENSEMBLE = "ensemble"
#: bumped when what an ensemble's fingerprint stands for changes
ENSEMBLE_VERSION = 1
#: request fields every member must share (besides the task), as the ensemble's evaluation uses them
_SHARED = ("symbol", "target_col", "timeframe", "target_transform", "lookforward", "data_options")


@dataclass(frozen=True)
class BuiltEnsemble:
    """A registered ensemble and whether it was already registered (same fingerprint)."""

    record: ModelRecord
    reused: bool

    def to_dict(self) -> dict[str, Any]:
        from walkforward.reports.payloads import model_dict

        return {"model": model_dict(self.record, brief=True), "reused": self.reused, **self.record.derived["ensemble"]}


def is_ensemble(request: Mapping[str, Any]) -> bool:
    """Whether a registry row's ``request`` is an ensemble's."""
    return request.get("algorithm") == ENSEMBLE and "ensemble" in request


def base_request(request: Mapping[str, Any]) -> TrainRequest:
    """The training request an ensemble's members share (data, target, trading), for loading and scoring.

    Its algorithm is the first candidate's, which gives the task; nothing is trained from it.
    """
    from walkforward.request import TRADING_FIELDS, DataRequest, TrainRequest

    shared = {k: v for k, v in request.items() if k in DataRequest.model_fields or k in TRADING_FIELDS}
    return TrainRequest.model_validate({**shared, "algorithm": request["ensemble"]["member_algorithm"]})


def _request_of(record: ModelRecord) -> TrainRequest:
    from walkforward.training.run import request_of

    return request_of(record)


def candidates(req: EnsembleRequest, registry: ModelStore) -> list[ModelRecord]:
    """The models to choose members from (unknown id: ``ModelNotFoundError``; empty cohort: not found)."""
    if req.models is not None:
        return [registry.get(model_id) for model_id in req.models]
    assert req.from_cohort is not None
    found = registry.cohort(req.from_cohort)
    if not found:
        raise DataNotFoundError(
            f"no cohort {req.from_cohort!r}: `walkforward models list` (or GET /models) shows models "
            "with their cohort_id"
        )
    if len(found) < 2:
        raise InvalidInputError(f"cohort {req.from_cohort} has one model: an ensemble needs at least two")
    return found


def check_compatible(records: Sequence[ModelRecord]) -> TrainRequest:
    """Refuse members of different symbols, timeframes, targets, tasks or trading settings; the shared request."""
    from walkforward.request import TRADING_FIELDS

    first = records[0]
    base = _request_of(first)
    for other in records[1:]:
        req = _request_of(other)
        if req.spec.is_classifier != base.spec.is_classifier:
            raise InvalidInputError(
                f"models {first.id} ({base.spec.task}) and {other.id} ({req.spec.task}) are of different tasks: "
                "combine regressors with regressors, classifiers with classifiers"
            )
        for key in (*_SHARED, *TRADING_FIELDS):
            a, b = getattr(base, key), getattr(req, key)
            if a != b:
                raise InvalidInputError(
                    f"models {first.id} and {other.id} differ in {key} ({a} vs {b}): an ensemble's members must "
                    "share symbols, timeframe, target, data options and trading settings"
                )
    return base


def aligned_predictions(records: Sequence[ModelRecord], registry: ModelStore, *, classifier: bool) -> pd.DataFrame:
    """The first candidate's kept frame with one ``m{i}`` column of forecasts per candidate.

    Refuses a candidate without kept predictions, or scored on other folds or rows (fold ids, test
    timestamps and targets must be the same).
    """
    import numpy as np

    column = "probability" if classifier else "prediction"
    base: pd.DataFrame | None = None
    out: dict[str, Any] = {}
    for i, record in enumerate(records):
        frame = registry.load_predictions(record)
        if frame is None:
            raise InvalidInputError(
                f"model {record.id} kept no out-of-sample predictions (registered before they were kept): "
                "train it again with the same request, then build the ensemble"
            )
        if base is None:
            base = frame
        else:
            same = (
                len(frame) == len(base)
                and (frame["fold"].to_numpy() == base["fold"].to_numpy()).all()
                and (frame["ts"].to_numpy() == base["ts"].to_numpy()).all()
                and np.allclose(frame["y"].to_numpy(), base["y"].to_numpy(), equal_nan=True)
            )
            if not same:
                raise InvalidInputError(
                    f"models {records[0].id} and {record.id} were scored on different folds or rows "
                    f"({base['fold'].nunique()} folds / {len(base)} rows vs {frame['fold'].nunique()} / {len(frame)}): "
                    "an ensemble's members must share folds and test timestamps (train them with the same request)"
                )
        out[f"m{i}"] = frame[column].to_numpy(dtype=float)
    assert base is not None
    return base.assign(**out)


def ensemble_fingerprint(records: Sequence[ModelRecord], req: EnsembleRequest, top: int) -> str:
    """Members' fingerprints + method + K + first-fold policy (order of the ids does not matter)."""
    from walkforward.model_selection.fingerprint import FINGERPRINT_VERSION, fingerprint

    return fingerprint(
        {
            "fingerprint_version": FINGERPRINT_VERSION,
            "kind": ENSEMBLE,
            "ensemble_version": ENSEMBLE_VERSION,
            "members": sorted(r.fingerprint for r in records),
            "method": req.method.value,
            "top": top,
            "first_fold": req.first_fold.value,
        }
    )


def build_ensemble(req: EnsembleRequest, *, registry: ModelStore) -> BuiltEnsemble:
    """Choose, combine, evaluate and register the ensemble ``req`` asks for; a registered one is returned as is.

    Examples
    --------
    >>> built = build_ensemble(parse_ensemble({"from_cohort": cid, "top": 3, "method": "stacking"}),
    ...                        registry=registry)  # doctest: +SKIP
    >>> built.record.metrics["cv"]["r2"], built.record.derived["ensemble"]["folds"][0]["basis"]  # doctest: +SKIP
    """
    from walkforward.registry import DuplicateModelError

    found = candidates(req, registry)
    top = len(found) if req.top is None else req.top
    if top > len(found):
        where = f"cohort {req.from_cohort}" if req.from_cohort else "the models listed"
        raise InvalidInputError(
            f"top={top} is more than the {len(found)} model(s) of {where}: use --top {len(found)} or less"
        )
    base = check_compatible(found)
    fp = ensemble_fingerprint(found, req, top)
    existing = registry.get_by_fingerprint(fp)
    if existing is not None:
        log.info("this ensemble is already registered: %s (fingerprint %s)", existing.id, fp[:12])
        return BuiltEnsemble(existing, reused=True)
    # Canonical order (by fingerprint): ties in a ranking are broken the same way whatever the ids' order.
    ordered = sorted(found, key=lambda r: r.fingerprint)
    from walkforward.ensembles.register import evaluate_and_register

    try:
        record = evaluate_and_register(ordered, req, top, base, fp, registry=registry)
    except DuplicateModelError as exc:  # built by someone else meanwhile
        if exc.existing_id is None:
            raise
        return BuiltEnsemble(registry.get(exc.existing_id), reused=True)
    return BuiltEnsemble(record, reused=False)
