"""store/record.py: the status record's one constructor, serializer and
transitions (pure: no file is touched)."""
import pytest

from astro_jobs.store import record

JOB_ID = "0123456789abcdef0123456789abcdef"
FIRST_FIELDS = ["job_id", "state", "created_at", "updated_at", "started_at", "finished_at",
                "params", "input", "attempts", "max_attempts", "worker", "stage",
                "heartbeat_at", "error", "solved"]


@pytest.fixture(autouse=True)
def settings(monkeypatch):
    monkeypatch.setenv("ASTRO_JOBS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("ASTRO_JOBS_NODE", "node-a")


def submitted(notify_url=None):
    return record.new(JOB_ID, {"priority": 4, "timeout": 60.0}, {"file": "a.png"}, notify_url)


def test_new_has_every_first_field_in_order_and_round_trips():
    status = submitted("https://example.org/hook")
    assert list(status)[:len(FIRST_FIELDS)] == FIRST_FIELDS
    assert status["state"] == "queued" and status["attempts"] == 1
    assert status["max_attempts"] == 3
    assert status["notify"] == {"url": "https://example.org/hook", "attempts": 0,
                                "delivered_at": None, "last_error": None,
                                "next_attempt_at": None}
    data = record.dumps(status)
    assert data.endswith(b"\n")
    assert record.loads(data) == status
    assert "notify" not in submitted()


@pytest.mark.parametrize("data", [b"[1, 2]", b'{"job_id": "x"}', b"{", b'{"state": 3}'])
def test_loads_refuses_what_is_not_a_record(data):
    with pytest.raises(ValueError):
        record.loads(data)


def test_accessors_return_a_dict_for_missing_or_broken_parts():
    status = submitted()
    assert record.worker(status) == {} and record.event(status) == {}
    assert record.webhook(status) == {}
    status["worker"] = "garbage"
    assert record.worker(status) == {} and record.instance(status) is None
    assert record.priority(status) == 4


def test_claim_then_lose_the_run_then_give_up():
    status = submitted()
    run = record.worker_of("node-a", 42, "abcdef123456", "Worker-1")
    record.apply(status, record.claimed(run), "processing")
    assert status["state"] == "processing" and status["beat"] == 0
    assert record.instance(status) == "abcdef123456"
    record.apply(status, record.with_pgid(status, 99))
    assert record.worker(status)["pgid"] == 99
    again = record.requeued(status, "its worker died")
    assert again["attempts"] == 2 and again["worker"] is None
    assert again["last_failure"] == "its worker died during attempt 1 (node node-a, pid 42)"
    status["attempts"] = 3
    final = record.gave_up(status, "its worker died")
    assert final["error"] == ("its worker died during attempt 3 of 3 (node node-a, pid 42); "
                              "giving up.")
    record.apply(status, final, "error")
    assert status["finish_event"] == {"pending": True}  # every end is reported
    assert status["stage"] is None and status["finished_at"]


def test_a_retry_arms_the_webhook_again_and_keeps_how_the_attempt_ended():
    status = submitted("https://example.org/hook")
    record.apply(status, record.ended("boom"), "error")
    status["notify"]["delivered_at"] = "2026-01-01T00:00:00.000Z"
    changes = record.retried(status)
    assert changes["attempts"] == 2 and changes["max_attempts"] == 4
    assert changes["last_failure"] == "attempt 1 ended error: boom"
    assert changes["notify"]["delivered_at"] is None
    assert changes["finish_event"] is None
    record.apply(status, changes, "queued")
    assert status["error"] is None and status["state"] == "queued"


def test_event_and_webhook_changes_keep_the_other_fields():
    status = submitted("https://example.org/hook")
    status["finish_event"] = {"pending": True, "owner": "a"}
    assert record.with_event(status, owner="b") == {
        "finish_event": {"pending": True, "owner": "b"}}
    assert record.with_webhook(status, attempts=1)["notify"]["url"] == \
        "https://example.org/hook"
    assert record.pending_event(status)
    assert record.beat(3)["beat"] == 3 and record.at_stage("solving") == {"stage": "solving"}
