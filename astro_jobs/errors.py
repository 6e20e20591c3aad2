"""One base error with a machine-readable ``code`` and the CLI exit code.

Domain code raises these and never prints; only ``cli.py`` turns them into
JSON and an exit status. They carry data, nothing else.
"""


class AstroJobsError(Exception):
    """Base class of every error the API raises on purpose."""

    code = "internal_error"
    exit_code = 1

    def __init__(self, message, code=None, **details):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self):
        return {"ok": False, "error": self.message, "code": self.code, **self.details}


class BadInput(AstroJobsError):
    """Bad usage, a bad parameter or an image we refuse (exit 2)."""

    code = "bad_input"
    exit_code = 2


class JobNotFound(AstroJobsError):
    code = "job_not_found"
    exit_code = 3


class NotReady(AstroJobsError):
    """The job is still queued or processing (exit 4)."""

    code = "not_ready"
    exit_code = 4


class JobFailed(AstroJobsError):
    """The job ended in ``error`` or was ``cancelled`` (exit 5)."""

    code = "job_failed"
    exit_code = 5


class StorageError(AstroJobsError):
    """JOBS_DIR or the queue cannot be used (unwritable, full, unreachable)."""

    code = "storage_error"
    exit_code = 1
