"""SHA-256 fingerprints of everything that makes a model what it is.

Two models with the same fingerprint are the same model on the same data: the fingerprint covers
the symbols, algorithm, target, timeframe, transform, lookforward, data options and date range, a
hash of the loaded data itself, the resolved feature list, the pruning threshold, the validation
scheme and embargo, and the effective hyperparameters. It leaves out the parent id (siblings of
different parents with the same features and parameters are the same model), the cohort and the time.

``FINGERPRINT_VERSION`` is part of every fingerprint and is bumped when what a fingerprint stands for
changes. Version 2 (one fallback rule for a single run and a search, typed requests) never matches a
version-1 row, so a model registered before it is trained again, once, rather than returned as is.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

FINGERPRINT_VERSION = 2


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return _canonical(value.item())
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        return int(value) if value.is_integer() else value  # alpha=1 and alpha=1.0 are one model
    return value


def fingerprint(parts: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of ``parts`` (key order and tuple/list do not matter)."""
    blob = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def data_signature(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """A content hash of the rows a model learns from (timestamps, split labels, target, features)."""
    cols = ["ts", "data_split", "target", *columns]
    hashed = pd.util.hash_pandas_object(frame.loc[:, cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()
