"""astro-jobs: run sky-image analysis outside the request cycle.

    import astro_jobs
    job_id = astro_jobs.submit("/path/img.jpg", scale_low=1, scale_high=3)
    astro_jobs.status(job_id)   # the status.json dict
    astro_jobs.result(job_id)   # the result dict, or raises
    astro_jobs.cancel(job_id)   # the new status dict
    astro_jobs.retry(job_id)    # an error/cancelled job queued again: the new status
    astro_jobs.stats()          # counts, oldest queued job, recent run times, consumers

Every error raised on purpose is an :class:`AstroJobsError` with a ``code``.
"""
from .api import (
           cancel,
           list_jobs,
           logs,
           prune,
           result,
           retry,
           stats,
           status,
           submit,
           submit_sources,
           wait,
)
from .errors import (
           AstroJobsError,
           BadInput,
           InvalidParameter,
           JobFailed,
           JobNotFound,
           NotReady,
           StorageError,
)

__all__ = ["submit", "submit_sources", "status", "result", "wait", "cancel", "list_jobs",
           "logs", "prune", "retry", "stats",
           "AstroJobsError", "BadInput", "InvalidParameter", "JobNotFound", "NotReady",
           "JobFailed", "StorageError"]
__version__ = "0.1.0"
