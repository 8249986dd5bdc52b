"""Training, search and retrain jobs of the service: validate and queue, run in a worker process, recover.

The lifecycle, with the state in the registry database (:class:`~walkforward.registry.jobs.JobStore`):

1. :func:`submit` checks a :class:`~walkforward.request.SearchRequest` completely (so bad input is
   refused at once, not as a failed job later) and queues it (:mod:`.spec`); :func:`submit_retrain`
   and :func:`submit_schedule` do the same for ``POST /models/{id}/retrain[/simulate]`` (:mod:`.retrain`).
2. A :class:`JobRunner` (a thread of the web server) claims queued jobs atomically and starts one
   ``python -m walkforward.service.jobs.worker JOB_ID`` process per job, at most ``concurrency`` at
   a time (:mod:`.runner`).
3. The worker (:func:`run_job`) trains, searches or retrains, writing progress and log lines to the job row,
   stops when a cancel was requested, and ends the job as done, failed or cancelled (:mod:`.worker`).
4. Jobs whose worker died with its server are marked ``interrupted`` (:func:`recover_jobs`, run at
   start-up and periodically, :mod:`.recovery`); :func:`resume` queues the same request again, and
   the search's fingerprints make it train only what is missing.

The worker's names are imported on first use, not with the package: ``python -m`` runs the worker
module as ``__main__``, and it would otherwise be imported twice (runpy warns about exactly that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from walkforward.service.jobs.recovery import interrupted_message, recover_jobs
from walkforward.service.jobs.retrain import RETRAIN, SCHEDULE, submit_retrain, submit_schedule
from walkforward.service.jobs.runner import WORKER_MODULE, JobRunner, worker_environment
from walkforward.service.jobs.spec import RESUMABLE, job_request, resume, submit

if TYPE_CHECKING:
    from walkforward.service.jobs.worker import JobCancelled, execute, run_job

_WORKER_NAMES = frozenset({"JobCancelled", "execute", "run_job"})


def __getattr__(name: str) -> Any:
    if name in _WORKER_NAMES:
        from walkforward.service.jobs import worker

        return getattr(worker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RESUMABLE",
    "RETRAIN",
    "SCHEDULE",
    "WORKER_MODULE",
    "JobCancelled",
    "JobRunner",
    "job_request",
    "execute",
    "interrupted_message",
    "recover_jobs",
    "resume",
    "run_job",
    "submit",
    "submit_retrain",
    "submit_schedule",
    "worker_environment",
]
