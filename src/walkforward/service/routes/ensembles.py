"""``POST /ensembles``: build (or find) an ensemble of registered models, as ``walkforward ensemble`` does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from walkforward.ensembles.request import EnsembleRequest
from walkforward.registry import ModelStore
from walkforward.service.deps import registry

router = APIRouter(tags=["ensembles"])

Registry = Annotated[ModelStore, Depends(registry)]


@router.post("/ensembles")
def create_ensemble(body: EnsembleRequest, reg: Registry) -> dict[str, Any]:
    """Combine a cohort's best K (``from_cohort``, ``top``) or listed ``models``; ``reused`` when already registered.

    The answer is the ensemble (brief), its candidates, final members and each fold's choice and basis.
    Unknown ids or cohort: 404; members of other symbols, targets or folds, or ``top`` above the
    candidates: 422.
    """
    from walkforward.ensembles import build_ensemble

    return build_ensemble(body, registry=reg).to_dict()
