"""walkforward: leakage-safe training and walk-forward evaluation of price-forecasting models.

The library surface, imported on first use (``import walkforward`` itself stays cheap, SPEC 1 style)::

    import walkforward as wf
    req = wf.TrainRequest(symbol="AAPL,QQQ,VIX", algorithm="elasticnet_regression", timeframe="5m")
    data = wf.prepare(req, store=wf.FeatureStore("data/features_parquet"))   # rows, labels, folds
    model = wf.fit(req, data)          # fitted Pipeline, per-fold metrics, fold plan; no registry
    record = wf.register(model, registry=registry)   # the separate, explicit step

See the README's "Python API" section for a runnable example.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "TrainRequest": "walkforward.request",
    "SearchRequest": "walkforward.request",
    "FeatureStore": "walkforward.features.store",
    "ModelStore": "walkforward.registry",
    "LoadRequest": "walkforward.data.loader",
    "load_dataset": "walkforward.data.loader",
    "write_demo_market": "walkforward.features.pipeline",
    "WalkForward": "walkforward.model_selection",
    "Expanding": "walkforward.model_selection",
    "Holdout": "walkforward.model_selection",
    "prepare": "walkforward.training",
    "fit": "walkforward.training",
    "register": "walkforward.training",
    "train": "walkforward.training",
    "predict": "walkforward.training",
    "run_search": "walkforward.search",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'walkforward' has no attribute {name!r}")
