"""Helpers shared by the ensemble tests and their fixtures (as tests/ui/uikit.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore, NewModel

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12, explain=False)
GRID = {"alpha_grid": [0.00003, 0.0001, 0.001], "l1_ratio_grid": [0.1, 0.9]}


@dataclasses.dataclass(frozen=True)
class Trained:
    store: FeatureStore
    registry_url: str
    models_dir: Path
    cohort_id: str
    cohort_ids: list[str]
    classifier_ids: list[str]
    other_symbol_id: str


def copy_models(source: ModelStore, target: ModelStore, ids: list[str]) -> None:
    """Register ``ids`` of ``source`` in ``target`` with the same ids, rows, artifacts and kept predictions."""
    for model_id in ids:
        record = source.get(model_id)
        fields = {name: getattr(record, name) for name in NewModel.__dataclass_fields__}
        fields["derived"] = {k: v for k, v in record.derived.items() if k != "predictions"}
        target.add(
            NewModel(**fields),
            source.load_artifact(record),
            model_id=model_id,
            predictions=source.load_predictions(record),
        )
