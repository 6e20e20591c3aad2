"""One base error with a machine-readable ``code``.

Domain code raises these and never prints; they carry data, nothing else.
Only ``cli.py`` turns them into JSON and exit codes, and only it knows that a
parameter ``scale_low`` is spelled ``--scale-low`` on the command line.
"""


class AstroJobsError(Exception):
    """Base class of every error the API raises on purpose.

    ``details`` are extra facts for the caller (e.g. the job's ``state``).
    """

    code = "internal_error"

    def __init__(self, message, code=None, **details):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class BadInput(AstroJobsError):
    """Bad usage, a bad parameter or an image we refuse."""

    code = "bad_input"


class InvalidParameter(BadInput):
    """A parameter's value is refused; the message names the parameter.

    ``template`` holds ``{name}`` fields for the parameters it names, so each
    face can spell them its own way (``scale_low`` here, ``--scale-low`` in
    the CLI); ``message`` spells them as the Python API does.
    """

    code = "invalid_parameter"

    def __init__(self, template, code=None, **details):
        self.template = template
        super().__init__(self.spelled(lambda name: name), code, **details)

    def spelled(self, spell):
        """The message with each ``{name}`` written as ``spell(name)``."""
        import string
        return string.Formatter().vformat(self.template, (), _Names(spell))


class _Names(dict):
    """Every field name a template asks for, spelled by one function."""

    def __init__(self, spell):
        super().__init__()
        self.spell = spell

    def __missing__(self, name):
        return self.spell(name)


def quoted(value):
    """``repr(value)`` made safe to embed in an :class:`InvalidParameter` template."""
    return repr(value).replace("{", "{{").replace("}", "}}")


class JobNotFound(AstroJobsError):
    code = "job_not_found"


class NotReady(AstroJobsError):
    """The job is still queued or processing."""

    code = "not_ready"


class JobFailed(AstroJobsError):
    """The job ended in ``error`` or was ``cancelled``."""

    code = "job_failed"


class StorageError(AstroJobsError):
    """JOBS_DIR or the queue cannot be used (unwritable, full, unreachable)."""

    code = "storage_error"
