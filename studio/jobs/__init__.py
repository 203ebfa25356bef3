"""Jobs layer (Qt): the model worker thread, the job queue and its signals."""

from .queue import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, Job, JobQueue

__all__ = ["CANCELLED", "FAILED", "FINISHED", "QUEUED", "RUNNING", "Job", "JobQueue"]
