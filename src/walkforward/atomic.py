"""Replace a file atomically: readers see the old file or the new one, never part of one.

Every writer of a file that readers may open at any moment (the store's manifest, a cohort's kept
statistics and prediction matrix, a chart) goes through :func:`replace_file`: a temporary file in
the target's folder (so the rename stays on one file system), written, flushed and fsynced, then
``os.replace``-d over the target; on any failure the temporary file is removed and the error raised.
The temporary name's ``prefix`` and ``suffix`` are the caller's, because the sweeps that clean up
after a killed writer find its files by them. Model artifacts keep their own writer
(:mod:`walkforward.registry.artifacts`): it also hashes the bytes it wrote.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["replace_file"]


def replace_file(
    path: Path, write: Callable[[BinaryIO], object], *, prefix: str = ".tmp-", suffix: str = ".part"
) -> None:
    """Write ``path`` through ``write(fh)`` on a temporary file renamed over it (created 0600, as mkstemp makes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
