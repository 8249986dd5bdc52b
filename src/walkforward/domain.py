"""Frozen records and validated vocabularies passed between layers.

Everything a user types (symbols, dates, timeframes, transforms, options names) is checked here
before it reaches SQL or a path: validated values are then passed to DuckDB as parameters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from walkforward.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np

SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,14}$")
OPTIONS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

#: Raw bar columns. Prices are never features; ``volume`` and ``trade_count`` are kept as
#: features (the reference scales them with RobustScaler).
RAW_PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "vwap")
BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "vwap", "trade_count")
#: Columns of the store that are never features.
METADATA_COLUMNS: tuple[str, ...] = ("ts", "dt", "symbol", "options", "data_split", "date", "source")
#: The exchange zone naive timestamps are read in when neither ``--timezone`` nor
#: ``WALKFORWARD_TIMEZONE`` says otherwise (and the zone of the demo market).
DEFAULT_TIMEZONE = "America/New_York"


class Timeframe(StrEnum):
    """Bar sizes the loader resamples to."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}[self.value]

    @classmethod
    def parse(cls, value: str) -> Timeframe:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise InvalidInputError(f"unknown timeframe {value!r}: use one of {choices}") from None


class TargetTransform(StrEnum):
    """How the lookforward target is built from the target column."""

    LOG_RETURN = "log_return"
    PCT_CHANGE = "pct_change"
    LOG = "log"
    NONE = "none"

    @classmethod
    def parse(cls, value: str) -> TargetTransform:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise InvalidInputError(f"unknown target transform {value!r}: use one of {choices}") from None


def validate_symbol(symbol: str) -> str:
    """Return the upper-cased symbol or refuse it (no path separators, quotes or SQL)."""
    sym = symbol.strip().upper()
    if not SYMBOL_RE.fullmatch(sym):
        raise InvalidInputError(f"invalid symbol {symbol!r}: use 1-15 letters, digits, '.' or '-' (e.g. AAPL, BRK.B)")
    return sym


def parse_symbols(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse ``"AAPL,QQQ,VIX"`` into a validated tuple: primary first, then context symbols."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    symbols = tuple(validate_symbol(p) for p in parts if p.strip())
    if not symbols:
        raise InvalidInputError("no symbol given: pass a primary symbol, e.g. 'AAPL' or 'AAPL,QQQ,VIX'")
    if len(set(symbols)) != len(symbols):
        raise InvalidInputError(f"symbol listed twice in {','.join(symbols)}: list each symbol once")
    return symbols


def validate_options(value: str) -> str:
    """Validate a feature-set name (``data_options``); it becomes a file name in the store."""
    if not OPTIONS_RE.fullmatch(value):
        raise InvalidInputError(f"invalid data options {value!r}: use letters, digits, '_', '.' or '-' (e.g. v1_full)")
    return value


def validate_timezone(name: str, source: str = "time zone") -> str:
    """Return an IANA zone name (``America/New_York``, ``Europe/London``, ``UTC``) or refuse it.

    ``source`` names where the value came from (``--timezone``, ``WALKFORWARD_TIMEZONE``) for the message.
    """
    zone = name.strip()
    try:
        if not zone or zone.startswith(("/", ".")) or ".." in zone:  # ZoneInfo would read it as a path
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones  # reads the zone database: only on this error path

        near = next((z for z in sorted(available_timezones()) if z.lower() == zone.lower()), None)
        fix = (
            f"did you mean {near}?"
            if near
            else "use an IANA zone name such as America/New_York, Europe/London, Asia/Tokyo or UTC"
        )
        raise InvalidInputError(f"unknown time zone {name!r} ({source}): {fix}") from None
    return zone


def parse_date(value: str | dt.date | None, what: str) -> dt.date | None:
    """Parse an ISO date (``2024-01-31``) or refuse it, naming the parameter."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"invalid {what} {value!r}: use an ISO date such as 2024-01-31") from None


@dataclass(frozen=True)
class SplitScheme:
    """Walk-forward labelling of trading days at ingest: ``train_days`` then ``test_days``, repeated."""

    train_days: int
    test_days: int

    @classmethod
    def parse(cls, value: str | None) -> SplitScheme | None:
        """Parse ``"60:20"`` (train days : test days) or ``"none"``."""
        if value is None or value.strip().lower() in ("", "none"):
            return None
        m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", value)
        if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            raise InvalidInputError(
                f"invalid split scheme {value!r}: use TRAIN_DAYS:TEST_DAYS such as 60:20, or 'none'"
            )
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.train_days}:{self.test_days}"


_BUDGET_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|fits?)\s*", re.IGNORECASE)
_BUDGET_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class SearchBudget:
    """How much a search may spend: a wall time (``seconds``) or a number of fold fits (``fits``).

    A fit is one configuration scored on one fold (the unit of :mod:`walkforward.search.plan`).
    The budget only says when to stop starting work; it is not part of any fingerprint.
    """

    text: str
    seconds: float | None = None
    fits: int | None = None

    @classmethod
    def parse(cls, value: str) -> SearchBudget:
        """``90s``, ``10m``, ``1.5h`` (wall time) or ``500fits`` (fold fits), else ``ValueError``."""
        m = _BUDGET_RE.fullmatch(value)
        amount = float(m.group(1)) if m else 0.0
        unit = m.group(2).lower() if m else ""
        if not m or amount <= 0 or (unit.startswith("fit") and not amount.is_integer()):
            raise ValueError(
                f"invalid budget={value!r}: use a wall time such as 90s, 10m or 2h, or a number of fits such as 500fits"
            )
        text = f"{m.group(1)}{'fits' if unit.startswith('fit') else unit}"
        if unit.startswith("fit"):
            return cls(text, fits=int(amount))
        return cls(text, seconds=amount * _BUDGET_SECONDS[unit])


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: positional row ranges plus what was removed and why.

    ``train_index``/``test_index`` are positions into the loaded dataset. Times are inclusive, and
    ``None`` when the splitter was given no timestamps. ``purged`` counts training rows dropped
    because their target window touched a test row; ``embargoed`` counts training rows dropped
    because their features look back into a test block.

    A fold unpacks as ``(train_index, test_index)``, the pair scikit-learn expects from an iterable
    ``cv``, so ``cross_validate(..., cv=plan.folds)`` and ``GridSearchCV(..., cv=plan.folds)`` work.
    """

    number: int
    train_index: np.ndarray = field(repr=False, compare=False)
    test_index: np.ndarray = field(repr=False, compare=False)
    train_start: dt.datetime | None
    train_end: dt.datetime | None
    test_start: dt.datetime | None
    test_end: dt.datetime | None
    purged: int
    embargoed: int

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.train_index, self.test_index))

    @staticmethod
    def _iso(value: dt.datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (without the index arrays) for registries and ``--json`` output."""
        return {
            "fold": self.number,
            "train_start": self._iso(self.train_start),
            "train_end": self._iso(self.train_end),
            "test_start": self._iso(self.test_start),
            "test_end": self._iso(self.test_end),
            "train_rows": len(self.train_index),
            "test_rows": len(self.test_index),
            "purged": self.purged,
            "embargoed": self.embargoed,
        }
