"""A full disk (or quota, or file-size limit) as one line that names what was written and the setting to change.

Writes to the three stores (artifacts under ``MODELS_DIR``, Parquet under ``FEATURES_PARQUET_DIR``,
the SQLite registry at ``METADATA_DB_PATH``) turn ``ENOSPC``/``EDQUOT``/``EFBIG`` into a
:class:`~walkforward.errors.DiskFullError` whose message holds a path relative to the store's
setting, never an absolute server path (the API returns the message to its clients).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path

from walkforward.errors import DiskFullError

#: The errors that mean "no room for these bytes" rather than "this write is wrong".
DISK_FULL_ERRNOS: frozenset[int] = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_WHAT = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit exceeded",
}


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is an OS error for want of space (pyarrow's included: it sets ``errno`` too).

    >>> is_disk_full(OSError(28, "No space left on device")), is_disk_full(OSError(2, "missing"))
    (True, False)
    """
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def store_relative(path: Path | str | None, root: Path, setting: str) -> str:
    """``SETTING/relative/path`` for a path under ``root``; the file name alone for any other path.

    A temporary file (``.tmp-...``) is named by its folder: its own name means nothing to a user.

    >>> store_relative("/srv/models/ab.joblib", Path("/srv/models"), "MODELS_DIR")
    'MODELS_DIR/ab.joblib'
    >>> store_relative("/srv/models/.tmp-1~h~ab-x.part", Path("/srv/models"), "MODELS_DIR")
    'MODELS_DIR'
    >>> store_relative("/elsewhere/x.parquet", Path("/srv/f"), "FEATURES_PARQUET_DIR")
    'x.parquet'
    """
    if path is None:
        return setting
    target = Path(path)
    if target.name.startswith(".tmp-"):
        target = target.parent
    for base in dict.fromkeys((Path(root).absolute(), Path(root).resolve())):
        try:
            rel = target.absolute().relative_to(base)
        except ValueError:
            continue
        return setting if rel == Path(".") else f"{setting}/{rel.as_posix()}"
    return target.name or setting


def disk_full_error(code: int | None, where: str, setting: str) -> DiskFullError:
    """The one-line error for a failed write of ``where`` (already relative) under ``setting``.

    >>> str(disk_full_error(28, "MODELS_DIR/ab.joblib", "MODELS_DIR"))
    'no space left on device writing MODELS_DIR/ab.joblib: free space or set MODELS_DIR to a directory on a larger disk'
    """
    what = _WHAT.get(code or errno.ENOSPC, "no space left on device")
    fix = "raise the limit (ulimit -f) or " if code == errno.EFBIG else ""
    return DiskFullError(
        f"{what} writing {where}: {fix}free space or set {setting} to a directory on a larger disk",
        code or errno.ENOSPC,
    )


def from_os_error(exc: OSError, roots: Mapping[str, Path], setting: str | None = None) -> DiskFullError:
    """The one-line error of a disk-full ``exc`` raised somewhere below the stores' ``roots`` (setting -> folder).

    The file it names (if any) is placed under its store; else ``setting`` says which store was
    being written (``None``: the caller cannot tell, and every store is named).

    >>> roots = {"MODELS_DIR": Path("/srv/m")}
    >>> str(from_os_error(OSError(28, "full", "/srv/m/x.joblib"), roots))  # doctest: +ELLIPSIS
    'no space left on device writing MODELS_DIR/x.joblib: free space or set MODELS_DIR to a ...'
    """
    if exc.filename is not None:
        for name, root in roots.items():
            where = store_relative(exc.filename, root, name)
            if where.startswith(name):
                return disk_full_error(exc.errno, where, name)
        return disk_full_error(exc.errno, Path(exc.filename).name, setting or "the output path")
    if setting is not None:
        return disk_full_error(exc.errno, setting, setting)
    return disk_full_error(exc.errno, "a store", " or ".join(roots) or "the data directories")


__all__ = ["DISK_FULL_ERRNOS", "disk_full_error", "from_os_error", "is_disk_full", "store_relative"]
