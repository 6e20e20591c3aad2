"""store/states.py: the transition table, the only moves allowed."""
import pytest

from astro_jobs.store.states import TERMINAL, InvalidTransition, State, check_transition

ALLOWED = {("queued", "processing"), ("queued", "cancelled"), ("queued", "error"),
           ("processing", "done"), ("processing", "error"), ("processing", "cancelled"),
           ("processing", "queued"), ("error", "queued"), ("cancelled", "queued"),
           ("done", "queued")}


@pytest.mark.parametrize("old", [s.value for s in State])
@pytest.mark.parametrize("new", [s.value for s in State])
def test_exactly_the_table_s_moves_are_allowed(old, new):
    if (old, new) in ALLOWED:
        assert check_transition(old, new) == State(new)
        return
    with pytest.raises(InvalidTransition) as caught:
        check_transition(old, new)
    assert caught.value.code == ("already_finished" if State(old) in TERMINAL
                                 else "invalid_transition")


def test_states_print_as_their_values():
    assert str(State.DONE) == "done" and State("queued") is State.QUEUED
