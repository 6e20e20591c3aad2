"""Judging a finished run: a pure function of stop reason, exit status and
result file, tested alone (the consumer tests cover it end to end)."""
import signal

import pytest

from astro_jobs.runner.judge import EXIT_OUT_OF_MEMORY, OUT_OF_MEMORY, Outcome, StopReason, judge
from astro_jobs.store.jobdir import ResultFile
from astro_jobs.store.states import State

TAIL = " Last lines of task.log: boom"


@pytest.mark.parametrize("reason", [StopReason.CANCELLED, StopReason.SUPERSEDED,
                                    StopReason.INTERRUPTED])
def test_runs_that_lost_the_job_record_nothing(reason):
    assert judge(reason, -signal.SIGTERM, None, 60, TAIL) is None


def test_timeout_is_an_error_naming_the_limit():
    outcome = judge(StopReason.TIMEOUT, -signal.SIGKILL, None, 42, TAIL)
    assert outcome.state is State.ERROR
    assert outcome.error.startswith("timed out after 42 s;") and outcome.error.endswith(TAIL)


@pytest.mark.parametrize("code, words", [(1, "exited with code 1"), (4, "exited with code 4"),
                                         (-signal.SIGKILL, "killed by signal SIGKILL")])
def test_a_failed_extractor_is_an_error_with_its_exit_and_log(code, words):
    outcome = judge(StopReason.EXITED, code, None, 60, TAIL)
    assert outcome == Outcome(State.ERROR, f"the extractor {'was ' if code < 0 else ''}"
                                           f"{words}.{TAIL}")


def test_out_of_memory_is_one_sentence_naming_the_setting():
    # Exit 3 is the extractor contract's "ran out of memory": no log tail,
    # whose last lines could be a traceback.
    outcome = judge(StopReason.EXITED, EXIT_OUT_OF_MEMORY, None, 60, TAIL)
    assert outcome == Outcome(State.ERROR, OUT_OF_MEMORY)
    assert "ASTRO_JOBS_MAX_MEMORY_MB" in outcome.error and TAIL not in outcome.error


@pytest.mark.parametrize("result, words", [
    (ResultFile.MISSING, "wrote no output/result.json"),
    (ResultFile.NOT_JSON, "is not valid JSON"),
    (ResultFile.NOT_OBJECT, "is not a JSON object"),
])
def test_exit_0_needs_a_result_object(result, words):
    outcome = judge(StopReason.EXITED, 0, result, 60, TAIL)
    assert outcome.state is State.ERROR and words in outcome.error


def test_exit_0_with_a_result_object_is_done():
    assert judge(StopReason.EXITED, 0, ResultFile.VALID, 60, TAIL) == Outcome(State.DONE)
