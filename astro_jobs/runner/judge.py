"""What a finished run means for its job: a pure function, testable alone."""
from dataclasses import dataclass
from enum import Enum
from typing import Optional

from ..extract import EXIT_OUT_OF_MEMORY
from ..process import describe_exit
from ..store.jobdir import ResultFile
from ..store.states import State


class StopReason(str, Enum):
    """Why supervision of an extractor ended."""

    EXITED = "exited"            # it ended by itself
    TIMEOUT = "timeout"          # the job's wall-clock limit passed; it was killed
    CANCELLED = "cancelled"      # the job was cancelled; it was killed
    SUPERSEDED = "superseded"    # another run owns the job now; it was killed
    INTERRUPTED = "interrupted"  # the consumer is stopping; the job is requeued


@dataclass(frozen=True)
class Outcome:
    state: State
    error: Optional[str] = None


# The run no longer owns the job (or gave it back): it records nothing.
_RECORDS_NOTHING = (StopReason.CANCELLED, StopReason.SUPERSEDED, StopReason.INTERRUPTED)

_RESULT_ERRORS = {
    ResultFile.MISSING: "the extractor exited with code 0 but wrote no output/result.json.",
    ResultFile.NOT_JSON: "the extractor's output/result.json is not valid JSON.",
    ResultFile.NOT_OBJECT: "the extractor's output/result.json is not a JSON object.",
}


OUT_OF_MEMORY = ("the image needs more memory than a job may use: the extractor ran out "
                 "under its limit (ASTRO_JOBS_MAX_MEMORY_MB) and stopped.")


def judge(reason, exit_code, result, timeout, log_tail=""):
    """The Outcome to record, or None when the run must record none.

    ``result`` is the ResultFile found (None when not looked at);
    ``log_tail`` is a sentence quoting task.log for error messages.
    """
    if reason in _RECORDS_NOTHING:
        return None
    if reason is StopReason.TIMEOUT:
        return Outcome(State.ERROR, f"timed out after {timeout:g} s; the extractor and its "
                                    f"children were killed.{log_tail}")
    if exit_code == EXIT_OUT_OF_MEMORY:
        return Outcome(State.ERROR, OUT_OF_MEMORY)
    if exit_code != 0:
        return Outcome(State.ERROR, f"the extractor {describe_exit(exit_code)}.{log_tail}")
    if result is not ResultFile.VALID:
        tail = log_tail if result is ResultFile.MISSING else ""
        return Outcome(State.ERROR, _RESULT_ERRORS[result] + tail)
    return Outcome(State.DONE)
