"""The one documented mapping from a feature column's name to its scaling group.

A context column carries its symbol as a suffix (``rsi_14_QQQ``); the suffix is upper case, feature
names are lower case, so the base name is the longest lower-case prefix. Groups:

=========  ====================================================  ==============================
group      base names                                            treatment
=========  ====================================================  ==============================
regime     ``regime_*``                                          one-hot (linear) / passthrough
robust     ``volume``, ``trade_count``, ``pro_vol_*``            RobustScaler (heavy tails)
bounded    ``rsi_*``, ``ibs``, ``aroon_*``, ``stoch_*``, ``bop``,  passthrough (already 0-1 /
           ``mfi_*``                                             0-100 / -1..1)
standard   everything else: returns, z-scores, ``ma_dist_*``,     StandardScaler
           momentum, MACD, volatility, ``volume_z_*`` ...
=========  ====================================================  ==============================
"""

from __future__ import annotations

import re
from enum import StrEnum

_SUFFIX = re.compile(r"^(?P<base>[a-z0-9_]*?[a-z0-9])(?:_[A-Z0-9][A-Z0-9_]*)?$")


class FeatureGroup(StrEnum):
    REGIME = "regime"
    ROBUST = "robust"
    BOUNDED = "bounded"
    STANDARD = "standard"


_BOUNDED_PREFIXES = ("rsi_", "aroon_", "stoch_", "mfi_")
_BOUNDED_NAMES = ("ibs", "bop")
_ROBUST_NAMES = ("volume", "trade_count")


def base_name(column: str) -> str:
    """``rsi_14_QQQ`` -> ``rsi_14``; a primary column is returned unchanged."""
    m = _SUFFIX.match(column)
    return m.group("base") if m else column


def feature_group(column: str) -> FeatureGroup:
    """The scaling group of a feature column (see the module docstring for the table)."""
    base = base_name(column)
    if base.startswith("regime_"):
        return FeatureGroup.REGIME
    if base in _ROBUST_NAMES or base.startswith("pro_vol_"):
        return FeatureGroup.ROBUST
    if base in _BOUNDED_NAMES or base.startswith(_BOUNDED_PREFIXES):
        return FeatureGroup.BOUNDED
    return FeatureGroup.STANDARD
