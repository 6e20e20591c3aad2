"""The observer's side of liveness, alone: how long a job's heartbeat has
stood still, on the observer's own clock, whatever the status's clocks say."""
from astro_jobs.runner.recovery import Observations, beat_token


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _status(beat, heartbeat_at="2026-01-01T00:00:00.000Z", attempts=1, instance="a"):
    return {"job_id": "0" * 32, "state": "processing", "attempts": attempts, "beat": beat,
            "heartbeat_at": heartbeat_at, "worker": {"node": "n", "instance": instance}}


def test_a_heartbeat_that_moves_is_never_stale_whatever_its_timestamp_says():
    clock = Clock()
    seen = Observations(clock)
    # A timestamp from far in the past (a node whose clock is behind): only
    # the change matters.
    for beat in range(20):
        assert seen.unchanged_for("j", beat_token(_status(beat, "1999-01-01T00:00:00Z"))) == 0
        clock.now += 1.0


def test_a_heartbeat_that_stops_is_stale_after_the_observer_watched_it_stand_still():
    clock = Clock()
    seen = Observations(clock)
    token = beat_token(_status(5, "2999-01-01T00:00:00Z"))  # a clock far ahead
    assert seen.unchanged_for("j", token) == 0  # a new observer knows nothing yet
    clock.now += 1.5
    assert seen.unchanged_for("j", token) == 1.5
    clock.now += 1.0
    assert seen.unchanged_for("j", token) == 2.5


def test_a_new_attempt_or_consumer_starts_the_watch_again():
    clock = Clock()
    seen = Observations(clock)
    seen.unchanged_for("j", beat_token(_status(3)))
    clock.now += 10
    assert seen.unchanged_for("j", beat_token(_status(3, attempts=2))) == 0
    clock.now += 10
    assert seen.unchanged_for("j", beat_token(_status(3, attempts=2, instance="b"))) == 0


def test_forgotten_jobs_start_from_nothing():
    clock = Clock()
    seen = Observations(clock)
    seen.unchanged_for("j", beat_token(_status(1)))
    seen.unchanged_for("k", beat_token(_status(1)))
    clock.now += 5
    seen.keep_only({"k"})
    assert seen.unchanged_for("j", beat_token(_status(1))) == 0
    assert seen.unchanged_for("k", beat_token(_status(1))) == 5
    seen.forget("k")
    assert seen.unchanged_for("k", beat_token(_status(1))) == 0
