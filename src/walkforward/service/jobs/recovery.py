"""Crash recovery: active jobs whose worker process is gone are marked ``interrupted``.

On the worker's own host the job row's pid is looked up in ``/proc`` (a pid reused by another
process does not count: its command line must name the job); a worker on another host is gone
when its heartbeat is stale.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from walkforward.registry.jobs import JobStatus, JobStore

log = logging.getLogger(__name__)


def interrupted_message(job_id: str) -> str:
    """The error of a job whose worker stopped with its server (the same words wherever that is noticed)."""
    return (
        f"the server stopped while job {job_id} was running; models saved so far are kept: "
        f"POST /jobs/{job_id}/resume to train only what is missing"
    )


def _pid_alive(pid: int, job_id: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process running ``job_id``'s worker."""
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and job_id.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_jobs(jobs: JobStore, *, host: str, stale_after: float = 60.0) -> list[str]:
    """Mark active jobs whose worker is gone as ``interrupted`` (or ``cancelled`` if cancelling).

    A worker on this host is gone when its process is; on another host, when its heartbeat is older
    than ``stale_after`` seconds. Returns the ids of the jobs marked.
    """
    now = dt.datetime.now(dt.UTC)
    marked = []
    for job in jobs.active():
        stale = job.heartbeat_at is None or (now - job.heartbeat_at).total_seconds() > stale_after
        if job.worker_host == host and job.worker_pid is not None:
            dead = not _pid_alive(job.worker_pid, job.id)
        else:
            dead = stale
        if not dead:
            continue
        if job.status == JobStatus.CANCELLING:
            ok = jobs.finish(job.id, JobStatus.CANCELLED, error="cancelled; its worker had stopped")
        else:
            message = interrupted_message(job.id)
            ok = jobs.finish(job.id, JobStatus.INTERRUPTED, error=message, lines=[message])
        if ok:
            log.warning(
                "job %s: its worker is gone; marked %s",
                job.id,
                "cancelled" if job.status == "cancelling" else "interrupted",
            )
            marked.append(job.id)
    return marked


__all__ = ["interrupted_message", "recover_jobs"]
