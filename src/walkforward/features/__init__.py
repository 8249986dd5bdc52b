"""The feature service: causal indicators, the Parquet feature store, ingest and the demo market.

The two defaults the CLI shows in ``--help`` live here, so that naming them imports no pandas,
TA-Lib or scipy; :mod:`~walkforward.features.indicators` and :mod:`~walkforward.features.demo`
re-export them.
"""

from __future__ import annotations

#: The version name of the indicator set in :mod:`walkforward.features.indicators`.
FEATURE_SET_VERSION: str = "v1"

#: The symbols of the synthetic market in :mod:`walkforward.features.demo`.
DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "QQQ", "VIX")

__all__ = ["DEFAULT_SYMBOLS", "FEATURE_SET_VERSION"]
