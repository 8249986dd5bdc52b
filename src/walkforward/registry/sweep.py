"""Which files of the models directory nobody owns, and the sweep that deletes them.

A model is written as a temporary ``.tmp-{pid}~{host}~{id}-*.part`` file, renamed to ``{id}.joblib``,
then its row is committed; a process killed on the way leaves the temporary file or an artifact no
row references. The sweep (at server start, at the start and end of every search, after every
training run and API job) deletes such a file only when no live writer can still own it:

- a file a row references is never touched, nor any other name than artifacts and temporaries;
- a temporary file names its writer: a live process of this host, or a running job of another
  host (``jobs.worker_pid``/``worker_host``; its liveness cannot be checked from here), keeps it
  whatever its age; a writer of this host that no longer runs cannot finish it, so it goes at once;
- anything else (an unreferenced artifact, a temporary file of another host's finished writer)
  goes once it is older than the grace period (an hour by default), which covers the instant
  between an artifact's rename and its row's commit.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Collection
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.registry._schema import jobs, models
from walkforward.registry.artifacts import ARTIFACT_SUFFIX, PREDICTIONS_SUFFIX, TEMP_PREFIX, model_files
from walkforward.registry.database import Database
from walkforward.registry.jobs import ACTIVE

log = logging.getLogger(__name__)

#: Files younger than this (seconds) are left alone unless their writer is known to be dead.
GRACE_SECONDS = 3600.0
_TEMP_WRITER = re.compile(r"^\.tmp-(\d+)~(.+?)~")

Writer = tuple[int, str]


def temp_writer(name: str) -> Writer | None:
    """The (pid, host) a temporary artifact file names as its writer, or ``None``.

    >>> temp_writer(".tmp-4242~web-1~3f2a-x1.part"), temp_writer("3f2a.joblib")
    ((4242, 'web-1'), None)
    """
    match = _TEMP_WRITER.match(name)
    return (int(match.group(1)), match.group(2)) if match else None


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this host (another user's counts: it cannot be signalled)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def removable(
    name: str,
    age: float,
    *,
    referenced: Collection[str],
    live_jobs: Collection[Writer],
    host: str,
    alive: Callable[[int], bool],
    grace: float = GRACE_SECONDS,
) -> bool:
    """Whether the sweep may delete the file ``name``, last modified ``age`` seconds ago (pure).

    ``referenced`` holds the artifact names rows point to, ``live_jobs`` the (pid, host) of running
    jobs, ``alive`` tells whether a pid of this ``host`` runs.

    >>> kw = dict(referenced={"a.joblib"}, live_jobs=set(), host="h", alive=lambda pid: pid == 7)
    >>> removable("a.joblib", 1e6, **kw), removable("b.joblib", 10, **kw), removable("b.joblib", 1e6, **kw)
    (False, False, True)
    >>> removable(".tmp-7~h~b-x.part", 1e6, **kw), removable(".tmp-8~h~b-x.part", 10, **kw)
    (False, True)
    """
    if name in referenced:
        return False
    if name.startswith(TEMP_PREFIX):
        writer = temp_writer(name)
        if writer is not None:
            if writer in live_jobs:
                return False
            pid, writer_host = writer
            if writer_host == host:
                return not alive(pid)
        return age >= grace
    if name.endswith((ARTIFACT_SUFFIX, PREDICTIONS_SUFFIX)):
        return age >= grace
    return False


def live_job_writers(conn: Connection, *, host: str, alive: Callable[[int], bool]) -> set[Writer]:
    """(pid, host) of the running jobs: this host's when their pid runs, every other host's."""
    rows = conn.execute(
        sa.select(jobs.c.worker_pid, jobs.c.worker_host).where(
            jobs.c.status.in_(list(ACTIVE)), jobs.c.worker_pid.is_not(None)
        )
    ).all()
    return {(int(pid), str(h)) for pid, h in rows if h != host or alive(int(pid))}


def sweep_models_dir(database: Database, models_dir: Path, *, grace: float = GRACE_SECONDS) -> list[Path]:
    """Delete the files of ``models_dir`` that :func:`removable` allows; return what was deleted."""
    if not models_dir.is_dir():
        return []
    now = time.time()
    # Listed before the referenced names are read: a row committed in between is seen.
    found: dict[Path, float] = {}
    for path in models_dir.iterdir():
        name = path.name
        if not (name.endswith((ARTIFACT_SUFFIX, PREDICTIONS_SUFFIX)) or name.startswith(TEMP_PREFIX)):
            continue
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if path.is_file() and not path.is_symlink():
            found[path] = now - info.st_mtime
    if not found:
        return []
    host = socket.gethostname()
    with database.transaction() as conn:
        artifacts = list(conn.execute(sa.select(models.c.artifact_path)).scalars())
        referenced = {f.name for name in artifacts for f in model_files(Path(name))}
        live = live_job_writers(conn, host=host, alive=pid_alive)
    removed = []
    for path, age in found.items():
        if removable(path.name, age, referenced=referenced, live_jobs=live, host=host, alive=pid_alive, grace=grace):
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # another sweeper was first
            removed.append(path)
    if removed:
        log.info("swept %d orphan artifact file(s) from %s", len(removed), models_dir)
    return removed


__all__ = ["GRACE_SECONDS", "live_job_writers", "pid_alive", "removable", "sweep_models_dir", "temp_writer"]
