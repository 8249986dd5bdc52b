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


class DiskFullError(WalkforwardError):
    """A write failed for want of space (ENOSPC, EDQUOT, EFBIG); nothing half-written was kept.

    ``errno`` keeps the operating system's code (``None`` for a database server's own "disk full").
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
