"""From forecasts to positions: the edge of a forecast, the position rule, lag and tranches.

A forecast made at the close of bar ``t`` is turned into a target position in three steps:

1. **edge**: the forecast in return units. A return target (``log_return``, ``pct_change``) is its
   own edge; a price-level target (``none``) gives ``forecast / price - 1`` and a log-price target
   (``log``) ``forecast - log(price)``, whose sign is that of ``forecast - price``. A classifier's
   edge is ``P(up or flat) - threshold``.
2. **rule**: long (+1) when the edge is above ``dead_band``, short (-1) when below ``-dead_band``
   (flat instead when ``long_only``), flat (0) in between.
3. **execution**: the forecast is traded ``lag`` bars later, and with a target ``lookforward``
   ``h > 1`` bars ahead, as ``h`` overlapping tranches of ``1/h`` each, each held ``h`` bars.

Pure numpy; nothing here sees a model, a fold or a database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkforward.domain import TargetTransform
from walkforward.errors import InvalidInputError


def _whole(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"invalid {name} {value!r}: use a whole number of bars >= {minimum}")
    return int(value)


def _vector(name: str, values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one value per row, got an array of shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class PositionRule:
    """How an edge becomes a position in {-1, 0, +1}.

    Parameters
    ----------
    dead_band : float
        No position while ``|edge| <= dead_band`` (return units for regressors, probability units
        for classifiers). 0 trades every non-zero edge.
    long_only : bool
        Flat instead of short on a negative edge.
    threshold : float
        Classifiers only: the probability of "up or flat" at which the edge is zero (0.5 by default).
    """

    dead_band: float = 0.0
    long_only: bool = False
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not (np.isfinite(self.dead_band) and self.dead_band >= 0):
            raise InvalidInputError(f"invalid dead band {self.dead_band!r}: use a number >= 0")
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInputError(f"invalid probability threshold {self.threshold!r}: use a number between 0 and 1")

    def to_dict(self) -> dict[str, object]:
        return {"dead_band": self.dead_band, "long_only": self.long_only, "threshold": self.threshold}


def forecast_edge(forecast: object, price: object, transform: TargetTransform | str) -> np.ndarray:
    """A regression forecast in return units, given the current price of the traded symbol.

    ``log_return`` and ``pct_change`` forecasts are returned as they are; a ``log`` forecast gives
    ``forecast - log(price)`` (a log return) and a price-level (``none``) forecast
    ``forecast / price - 1``, so the dead band is in return units whatever the target and the sign is
    that of ``forecast - price``.

    Examples
    --------
    >>> forecast_edge([101.0, 99.0], [100.0, 100.0], "none").round(3).tolist()
    [0.01, -0.01]
    """
    f = _vector("forecast", forecast)
    kind = TargetTransform.parse(str(transform))
    if kind in (TargetTransform.LOG_RETURN, TargetTransform.PCT_CHANGE):
        return f
    p = _vector("price", price)
    if p.shape != f.shape:
        raise InvalidInputError(f"{p.size} prices for {f.size} forecasts: pass the current price of every row")
    if kind is TargetTransform.LOG:
        return f - np.log(p)
    return f / p - 1.0


def classifier_edge(proba: object, threshold: float = 0.5) -> np.ndarray:
    """``P(up or flat) - threshold``: positive means long, negative short (see :class:`PositionRule`)."""
    p = _vector("probability", proba)
    if np.any((p < 0) | (p > 1)):
        raise InvalidInputError("probabilities must lie in [0, 1]: pass predict_proba(X)[:, 1]")
    return p - threshold


def positions(edge: object, rule: PositionRule = PositionRule()) -> np.ndarray:
    """Target positions in {-1.0, 0.0, +1.0} from an edge under ``rule`` (a NaN edge stays flat).

    Examples
    --------
    >>> positions([0.02, 0.001, -0.03], PositionRule(dead_band=0.005)).tolist()
    [1.0, 0.0, -1.0]
    >>> positions([0.02, -0.03], PositionRule(long_only=True)).tolist()
    [1.0, 0.0]
    """
    e = _vector("edge", edge)
    out = np.where(e > rule.dead_band, 1.0, np.where(e < -rule.dead_band, -1.0, 0.0))
    if rule.long_only:
        out = np.maximum(out, 0.0)
    return out


def held_positions(signal: object, *, lookforward: int = 1, lag: int = 1) -> np.ndarray:
    """The position held over each bar of one contiguous segment of rows.

    ``signal[t]`` is the target position decided at the close of bar ``t``. It fills at the close of
    bar ``t + lag`` (``lag=0``: at the very close the forecast was made from, as the target
    assumes; the default 1: at the next bar's close) and, for a target ``lookforward = h`` bars ahead,
    is one of ``h`` overlapping tranches of weight ``1/h``, held for ``h`` bars. The position held over
    bar ``u`` (earning the return from close ``u - 1`` to close ``u``) is therefore::

        held[u] = (1/h) * sum(signal[u - 1 - lag - j] for j in 0 .. h-1)   (terms before row 0 are 0)

    so the first ``1 + lag`` bars of a segment are flat and each h-bar forecast is paid once, bar by
    bar (no double counting of overlapping h-bar returns). With ``h = 1`` and ``lag = 0`` this is the
    usual ``signal.shift(1) * returns``.

    Examples
    --------
    >>> held_positions([1, 1, 1, -1, -1], lookforward=2, lag=0).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.0]
    """
    s = np.nan_to_num(_vector("signal", signal), nan=0.0)
    h = _whole("lookforward", lookforward, 1)
    lag = _whole("lag", lag, 0)
    n = s.size
    tranches = np.convolve(s, np.full(h, 1.0 / h))[:n]  # sum of the h signals decided at t-h+1 .. t
    held = np.zeros(n)
    shift = 1 + lag
    if n > shift:
        held[shift:] = tranches[: n - shift]
    return held
