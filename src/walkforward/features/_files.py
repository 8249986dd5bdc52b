"""File-system steps of the store's commit: durable writes, an atomic replace, a per-symbol lock.

Durable means fsynced before the manifest that lists the file is replaced, so that a power loss
after the commit cannot leave a listed file empty. The lock (``flock`` on ``{SYMBOL}/.lock``)
serialises ingests of one symbol; the kernel drops it when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from walkforward.atomic import replace_file

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"


def fsync_dir(path: Path) -> None:
    """Make the names created in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_table(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` as zstd Parquet and fsync it (the name is one no reader opens yet)."""
    import pyarrow.parquet as pq

    # 0600 and exclusive, as mkstemp makes the metadata: the store is private to its owner
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())


def replace_bytes(path: Path, data: bytes, *, prefix: str) -> None:
    """Replace ``path`` with ``data`` atomically: a fsynced temporary file renamed over it.

    The temporary file starts with ``prefix`` (it names the writer's pid, for the sweep).
    """
    replace_file(path, lambda fh: fh.write(data), prefix=prefix, suffix=".partial")


@contextlib.contextmanager
def symbol_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of one symbol's folder (waiting, with a log line, if another ingest has it)."""
    import fcntl

    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: waiting for another ingest of this symbol to finish", folder.name)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


__all__ = ["fsync_dir", "pid_alive", "replace_bytes", "symbol_lock", "write_table"]
