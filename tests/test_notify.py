"""Finish events: the webhook against real HTTP receivers on 127.0.0.1, and the
ASTRO_JOBS_ON_FINISH hook, through real consumers."""
import hashlib
import hmac
import http.server
import json
import os
import stat
import threading
import time

import pytest

from astro_jobs.timefmt import parse_iso

from support import wait_until

SECRET = "s3cret-for-tests"
# Short back-off and timeouts keep these tests quick; the schedule is the same.
FAST = {"ASTRO_JOBS_NOTIFY_BACKOFF": "0.3", "ASTRO_JOBS_NOTIFY_TIMEOUT": "1"}


class Receiver:
    """A real HTTP server on 127.0.0.1 answering each POST with the next scripted
    reply: a status code, ``"hang"`` (never answers) or ``"trickle"`` (one byte
    of headers every half second, forever). It records every request."""

    def __init__(self, *replies, default=200):
        self.replies = list(replies)
        self.default = default
        self.requests = []
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"time": time.monotonic(), "path": self.path,
                                          "headers": dict(self.headers), "body": body})
                reply = receiver.replies.pop(0) if receiver.replies else receiver.default
                if reply == "hang":
                    receiver.release.wait(60)
                    return
                if reply == "trickle":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not receiver.release.wait(0.5):
                        try:
                            self.wfile.write(b"X")
                        except OSError:  # the client gave up, as it should
                            return
                    return
                self.send_response(reply)
                if 300 <= reply < 400:
                    self.send_header("Location", "ftp://elsewhere.example/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/astro?token=abc"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*replies, **kwargs):
        made.append(Receiver(*replies, **kwargs))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


def settled(env, job_id, timeout=30):
    """The job's status once its finish event has been reported."""
    return env.wait_for(job_id, lambda s: s.get("finish_event")
                        and s["finish_event"].get("pending") is False, timeout,
                        "a settled finish event")


def test_retries_on_500_then_delivers_the_signed_final_status(env, images, consumers,
                                                             receivers):
    receiver = receivers(500, 500, 200)
    consumers(env, **FAST, ASTRO_JOBS_WEBHOOK_SECRET=SECRET)
    job_id = env.submit(images("ok"), "--notify", receiver.url)
    status = settled(env, job_id)

    assert status["state"] == "done"
    assert len(receiver.requests) == 3
    notify = status["notify"]
    assert notify["url"] == receiver.url
    assert notify["attempts"] == 3
    assert notify["delivered_at"] and notify["last_error"] is None
    for number, request in enumerate(receiver.requests, 1):
        headers = request["headers"]
        assert request["path"] == "/hooks/astro?token=abc"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Astro-Jobs-Event"] == "job.finished"
        assert headers["X-Astro-Jobs-Attempt"] == str(number)
        expected = hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
        assert headers["X-Astro-Jobs-Signature"] == f"sha256={expected}"
        body = json.loads(request["body"])
        assert (body["job_id"], body["state"]) == (job_id, "done")
        assert body["finished_at"] == status["finished_at"]
    gaps = [b["time"] - a["time"] for a, b in zip(receiver.requests, receiver.requests[1:])]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55, gaps  # 0.3 s, then doubled


def test_a_receiver_that_never_answers_does_not_hold_the_worker(env, images, consumers,
                                                               receivers):
    """The only worker starts the next job while the first one's webhook still
    hangs: reports run on notify's own threads, never on the worker's."""
    receiver = receivers(default="hang")
    first = env.submit(images("ok", "-1"), "--notify", receiver.url)
    second = env.submit(images("ok", "-2"))
    consumers(env, workers=1, **dict(FAST, ASTRO_JOBS_NOTIFY_TIMEOUT="3"),
              ASTRO_JOBS_NOTIFY_ATTEMPTS="2")
    done = env.wait_all_terminal([first, second], timeout=30)
    assert [s["state"] for s in done] == ["done", "done"]
    # A worker that waited for the POST would start the second job no sooner
    # than one whole timeout (3 s) after the first ended.
    gap = parse_iso(done[1]["started_at"]) - parse_iso(done[0]["finished_at"])
    assert gap < 3.0, f"the second job started {gap:.2f} s after the first ended"

    status = settled(env, first)
    assert status["notify"]["attempts"] == 2 and len(receiver.requests) == 2
    assert status["notify"]["delivered_at"] is None
    assert status["notify"]["last_error"] == "no answer within 3 s"
    # The unsigned delivery (no secret) still names the event.
    assert "X-Astro-Jobs-Signature" not in receiver.requests[0]["headers"]
    assert status["state"] == "done"


def test_redirects_4xx_tricklers_and_dead_ports_fail_cleanly(env, images, consumers,
                                                            receivers, tmp_path):
    redirect, gone, trickle = receivers(302), receivers(404), receivers(default="trickle")
    consumers(env, **FAST, ASTRO_JOBS_NOTIFY_ATTEMPTS="2")
    closed_port = "http://127.0.0.1:9/hook"  # nothing listens on the discard port
    jobs = {url: env.submit(images("ok", f"-{n}"), "--notify", url)
            for n, url in enumerate([redirect.url, gone.url, trickle.url, closed_port])}
    notify = {url: settled(env, job_id)["notify"] for url, job_id in jobs.items()}

    assert notify[redirect.url]["attempts"] == 1  # not retried, not followed
    assert "redirect to 'ftp://elsewhere.example/' not followed" in \
        notify[redirect.url]["last_error"]
    assert (notify[gone.url]["attempts"], notify[gone.url]["last_error"]) == (1, "HTTP 404")
    assert notify[trickle.url]["attempts"] == 2
    assert "no complete answer" in notify[trickle.url]["last_error"]
    assert notify[closed_port]["attempts"] == 2
    assert "Connection refused" in notify[closed_port]["last_error"]
    assert all(env.status(job_id)["state"] == "done" for job_id in jobs.values())


def test_submit_accepts_only_http_urls(env, images):
    for bad in ("ftp://example.org/x", "file:///etc/passwd", "http://", "javascript:x",
                "http://exa mple.org/", "http://127.0.0.1:99999/"):
        code, out, _ = env.run("submit", "--image", images("ok"), "--notify", bad)
        assert (code, out["code"]) == (2, "invalid_parameter"), bad
        assert "--notify" in out["error"]
    code, out, _ = type(env)(env, ASTRO_JOBS_NOTIFY_URL="gopher://old.example/").run(
        "submit", "--image", images("ok"))
    assert (code, out["code"]) == (2, "invalid_parameter")
    assert env.job_folders() == []


def test_the_default_url_comes_from_the_environment(env, images):
    job_id = type(env)(env, ASTRO_JOBS_NOTIFY_URL="https://backend.example/h").submit(
        images("ok"))
    assert env.status(job_id)["notify"] == {
        "url": "https://backend.example/h", "attempts": 0, "delivered_at": None,
        "last_error": None, "next_attempt_at": None}


def test_a_cancel_made_by_the_cli_is_reported_by_the_consumer(env, images, consumers,
                                                             receivers):
    receiver = receivers()
    # Cancelled while queued, with no consumer running: only the sweep can see it.
    queued = env.submit(images("ok", "-q"), "--notify", receiver.url)
    assert env.run("cancel", "--job-id", queued)[0] == 0
    consumers(env, **FAST)
    running = env.submit(images("hang"), "--notify", receiver.url)
    env.wait_for(running, lambda s: s["state"] == "processing", 20, "processing")
    assert env.run("cancel", "--job-id", running)[0] == 0
    for job_id in (queued, running):
        assert settled(env, job_id)["notify"]["delivered_at"]
    bodies = sorted((json.loads(r["body"])["job_id"], json.loads(r["body"])["state"])
                    for r in receiver.requests)
    assert bodies == sorted([(queued, "cancelled"), (running, "cancelled")])


def test_a_delivery_cut_by_a_crash_is_finished_by_the_next_consumer(env, images, consumers,
                                                                   receivers):
    receiver = receivers(500, default=200)
    first = consumers(env, ASTRO_JOBS_NOTIFY_BACKOFF="4", ASTRO_JOBS_NOTIFY_TIMEOUT="1")
    job_id = env.submit(images("ok"), "--notify", receiver.url)
    status = env.wait_for(job_id, lambda s: (s.get("notify") or {}).get("attempts") == 1,
                          20, "a first attempt")
    assert status["finish_event"]["pending"] is True
    first.kill()  # its next attempt was 4 s away
    consumers(env, ASTRO_JOBS_NOTIFY_BACKOFF="4", ASTRO_JOBS_NOTIFY_TIMEOUT="1")
    status = settled(env, job_id, timeout=30)
    assert status["notify"]["attempts"] == 2 and status["notify"]["delivered_at"]
    assert len(receiver.requests) == 2
    assert status["finish_event"]["owner"] is None


HOOK = """#!{python}
import json, os, sys, time
status = json.load(sys.stdin)
with open({record!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "stdin": status, "cwd": os.getcwd()}}) + "\\n")
print("hook saw", sys.argv[1], sys.argv[2])
if sys.argv[2] == "error":
    time.sleep(60)
"""


def test_the_on_finish_hook_gets_argv_and_stdin_and_is_bounded(env, images, consumers,
                                                              tmp_path):
    import sys
    record = tmp_path / "hook-calls.jsonl"
    program = tmp_path / "on finish.py"  # a space: argv, never a shell
    program.write_text(HOOK.format(python=sys.executable, record=str(record)))
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    consumers(env, ASTRO_JOBS_ON_FINISH=str(program), ASTRO_JOBS_ON_FINISH_TIMEOUT="1.5")
    good, bad = env.submit(images("ok")), env.submit(images("fail"))
    statuses = {job_id: settled(env, job_id) for job_id in (good, bad)}

    calls = {c["argv"][0]: c for c in map(json.loads, record.read_text().splitlines())}
    assert calls[good]["argv"] == [good, "done"]
    assert calls[bad]["argv"] == [bad, "error"]
    assert calls[good]["stdin"]["job_id"] == good and calls[good]["stdin"]["state"] == "done"
    assert statuses[good]["finish_event"]["hook"] == "exited with code 0"
    assert statuses[bad]["finish_event"]["hook"].startswith("killed at its timeout")
    assert statuses[bad]["state"] == "error"
    log = env.run("logs", "--job-id", good, check_json=False)[1]
    assert f"hook saw {good} done" in log
    assert "on-finish hook exited with code 0" in log
    assert "killed at its timeout" in env.run("logs", "--job-id", bad, check_json=False)[1]
    assert wait_until(lambda: not _hooks_running(program), timeout=5)


def _hooks_running(program):
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if str(program).encode() in handle.read():
                        return True
            except OSError:
                continue
    return False
