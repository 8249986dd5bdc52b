"""Declared value ranges of hyperparameters, checked before any data is loaded.

scikit-learn validates parameters only inside ``fit`` (after minutes of loading) and LightGBM and
XGBoost accept some nonsense silently (a negative ``num_leaves`` fails deep inside the booster), so
each algorithm declares the ranges of the parameters a user sets most; a probe fit on a few
synthetic rows (:meth:`AlgorithmSpec.check`) catches what is not declared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """A number in ``[low, high]`` (open ends with ``low_open`` / ``high_open``), or one of ``also``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    also: Sequence[Any] = ()

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        text = f"{kind} {' and '.join(parts)}".strip()
        if self.also:
            text += " or " + " / ".join("null" if a is None else repr(a) for a in self.also)
        return text

    def accepts(self, value: Any) -> bool:
        if any(value is a or (value == a and type(value) is type(a)) for a in self.also):
            return True
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


def check_value(algorithm: str, name: str, value: Any, rule: Range, where: str = "") -> None:
    """Raise ``ValueError`` naming the parameter, the bad value and the accepted range."""
    if not rule.accepts(value):
        at = f" in {where}" if where else ""
        raise ValueError(f"invalid {name}={value!r}{at} for {algorithm}: use {rule.describe()}")


POSITIVE_INT = Range(1, integer=True)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)
FRACTION = Range(0, 1, low_open=True)  # (0, 1]
UNIT = Range(0, 1)  # [0, 1]
