"""Jobs layer (Qt): the model worker thread, the job queue, a handle per job, the worker's runtime."""

from .handle import JobError, JobHandle
from .queue import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, Job, JobQueue
from .runtime import RuntimeFactory

__all__ = [
    "CANCELLED",
    "FAILED",
    "FINISHED",
    "QUEUED",
    "RUNNING",
    "Job",
    "JobError",
    "JobHandle",
    "JobQueue",
    "RuntimeFactory",
]
