"""What worker pools leave in shared memory, and the sweep that removes it once its owner is dead.

joblib memory-maps large task arguments into ``joblib_memmapping_folder_<pid>_<id>_<id>`` folders
(in ``/dev/shm`` when it is large enough, else ``JOBLIB_TEMP_FOLDER`` or the temp dir) and loky
names its POSIX semaphores ``/dev/shm/sem.loky-<pid>-<random>``. Both are removed by finalizers in
the owning process and by loky's resource tracker; a SIGKILL of the whole process tree runs neither,
so the next search sweeps at start what belongs to a dead process (the pid is in every name). A
:class:`~walkforward.model_selection.executors.LocalExecutor` also puts its memmaps under a run
folder of its own, ``walkforward-<pid>-<random>``, which it removes on close.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from walkforward.errors import WalkforwardError

if TYPE_CHECKING:
    from walkforward.registry import ModelStore

log = logging.getLogger(__name__)

SHM = Path("/dev/shm")
RUN_PREFIX = "walkforward-"
# joblib only uses /dev/shm when it holds at least this much (joblib._memmapping_reducer).
_SHM_MIN_BYTES = int(2e9)
_OWNED = re.compile(r"^(?:joblib_memmapping_folder_|sem\.loky-|walkforward-)(\d+)[-_]")


def temp_root() -> Path:
    """Where joblib puts memmaps when no folder is given: ``JOBLIB_TEMP_FOLDER``, ``/dev/shm``, or the temp dir."""
    env = os.environ.get("JOBLIB_TEMP_FOLDER")
    if env:
        return Path(os.path.expanduser(os.path.expandvars(env)))
    try:
        if SHM.is_dir() and os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).total >= _SHM_MIN_BYTES:
            return SHM
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def make_run_folder() -> Path:
    """A fresh folder for one executor's memmaps, named after this process so a sweep can tell its owner."""
    root = temp_root()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def owner_pid(name: str) -> int | None:
    """The pid in a joblib/loky/walkforward shared-memory name, or None for anything else.

    >>> owner_pid("sem.loky-4242-k3j2h1x0"), owner_pid("joblib_memmapping_folder_4242_ab_cd"), owner_pid("x")
    (4242, 4242, None)
    """
    match = _OWNED.match(name)
    return int(match.group(1)) if match else None


def sweep_dead_pool_files(roots: Iterable[Path] | None = None) -> list[Path]:
    """Remove memmap folders, loky semaphores and run folders whose owning process is dead.

    Only entries of this user are considered; a pid that is alive (or reused) keeps its entries.
    /dev/shm is shared by every process in this pid namespace: a container with its own pids and the
    same /dev/shm would look dead here, which is why only names we know and own are touched.
    """
    uid = os.getuid()
    removed: list[Path] = []
    for root in dict.fromkeys(roots if roots is not None else (SHM, temp_root())):
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for path in entries:
            pid = owner_pid(path.name)
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            try:
                if path.lstat().st_uid != uid:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue  # another sweeper was first
            except OSError as exc:
                log.warning("could not remove %s left by dead process %d: %s", path, pid, exc)
                continue
            removed.append(path)
    return removed


def sweep_leftovers(registry: ModelStore) -> tuple[list[Path], list[Path]]:
    """Dead processes' pool files, then the registry's orphan artifacts (see :meth:`ModelStore.sweep_orphans`)."""
    pool = sweep_dead_pool_files()
    if pool:
        log.info(
            "removed %d leftover worker file(s) of dead processes: %s",
            len(pool),
            ", ".join(p.name for p in pool[:5]) + (" ..." if len(pool) > 5 else ""),
        )
    artifacts = registry.sweep_orphans()
    return pool, artifacts


def sweep_quietly(registry: ModelStore, when: str) -> None:
    """:func:`sweep_leftovers`, logging a failure instead of raising it.

    Run at server start and after every search, training run and job: a sweep that cannot read the
    registry must neither hide the run's own outcome nor stop a server from starting.
    """
    try:
        sweep_leftovers(registry)
    except (WalkforwardError, OSError) as exc:
        log.warning("sweep of leftover files %s skipped: %s", when, exc)


__all__ = [
    "make_run_folder",
    "owner_pid",
    "sweep_dead_pool_files",
    "sweep_leftovers",
    "sweep_quietly",
    "temp_root",
]
