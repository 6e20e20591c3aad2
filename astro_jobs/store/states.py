"""Job states and the only transitions allowed between them."""
from enum import Enum

from ..errors import BadInput


class State(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"

    def __str__(self):
        return self.value


TERMINAL = frozenset({State.DONE, State.ERROR, State.CANCELLED})

# processing -> queued is recovery: the worker died or was interrupted.
# queued -> error is a job that cannot even start (its attempts ran out).
# error/cancelled -> queued is an operator's retry (api.retry), nothing else;
# so is done -> queued, which api.retry allows only for a job that did not solve.
TRANSITIONS = {
    State.QUEUED: {State.PROCESSING, State.CANCELLED, State.ERROR},
    State.PROCESSING: {State.DONE, State.ERROR, State.CANCELLED, State.QUEUED},
    State.DONE: {State.QUEUED},
    State.ERROR: {State.QUEUED},
    State.CANCELLED: {State.QUEUED},
}


class InvalidTransition(BadInput):
    code = "invalid_transition"


def check_transition(old, new):
    old, new = State(old), State(new)
    if old in TERMINAL and new not in TRANSITIONS[old]:
        raise InvalidTransition(f"the job already ended ({old.value}); it cannot become "
                                f"{new.value}", code="already_finished", state=old.value)
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"the job is {old.value}; it cannot become {new.value}",
                                state=old.value)
    return new


def is_terminal(state):
    return State(state) in TERMINAL
