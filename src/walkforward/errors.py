"""Our own exceptions: each says what is wrong, where, and how to fix it."""

from __future__ import annotations


class WalkforwardError(Exception):
    """Base class for errors a user can act on (the CLI prints them without a traceback)."""


class InvalidInputError(WalkforwardError, ValueError):
    """A parameter a user typed is malformed (symbol, date, timeframe, transform, ...)."""


class IngestError(WalkforwardError):
    """A bars file was refused; nothing from it was written."""


class DataNotFoundError(WalkforwardError, LookupError):
    """The store holds no data for what was asked."""


class StoreFormatError(WalkforwardError):
    """The feature store was written by an older version; it needs ``walkforward store migrate``."""
