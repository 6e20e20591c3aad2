"""`retry`: a failed or cancelled job runs again from its own input."""
import json
import sys

from support import STAND_IN, python_snippet

BROKEN_EXTRACTOR = """#!{python}
import os, sys
if os.path.exists({marker!r}):
    print("the catalogue is missing", file=sys.stderr)
    sys.exit(7)
os.execv({python!r}, [{python!r}, {stand_in!r}, *sys.argv[1:]])
"""


def test_a_failed_job_retried_once_its_cause_is_fixed_ends_done(env, images, consumers,
                                                                 tmp_path):
    marker = tmp_path / "broken"
    marker.touch()
    program = tmp_path / "extractor.py"
    program.write_text(BROKEN_EXTRACTOR.format(python=sys.executable, marker=str(marker),
                                               stand_in=str(STAND_IN)))
    program.chmod(0o755)
    consumers(env, ASTRO_EXTRACT_BIN=str(program))
    job_id = env.submit(images("ok"), "--scale-low", "1", "--scale-high", "3")
    failed = env.wait(job_id)
    assert failed["state"] == "error" and "code 7" in failed["error"]

    marker.unlink()  # the cause, fixed
    code, out, _ = env.run("retry", "--job-id", job_id)
    assert code == 0
    assert out == {"ok": True, "job_id": job_id, "state": "queued", "attempts": 2}
    done = env.wait(job_id)

    assert done["state"] == "done" and done["error"] is None
    assert done["attempts"] == 2
    assert done["last_failure"].startswith("attempt 1 ended error: the extractor exited with "
                                           "code 7")
    assert done["params"] == failed["params"] and done["input"] == failed["input"]
    result = json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())
    assert "--scale-low" in result["argv"]
    log = env.run("logs", "--job-id", job_id, check_json=False)[1]
    assert "the catalogue is missing" in log  # the first attempt's output stays
    assert log.index("attempt 1 on") < log.index("retry: attempt 2 queued") \
        < log.index("attempt 2 on")


def test_a_cancelled_job_can_be_retried(env, images, consumers):
    job_id = env.submit(images("ok"))
    assert env.run("cancel", "--job-id", job_id)[0] == 0
    consumers(env)
    code, out, _ = env.run("retry", "--job-id", job_id)
    assert (code, out["state"]) == (0, "queued")
    assert env.wait(job_id)["state"] == "done"


def test_retry_refuses_jobs_that_did_not_fail(env, images, consumers):
    queued = env.submit(images("ok", "-queued"))
    code, out, _ = env.run("retry", "--job-id", queued)
    assert (code, out["code"], out["state"]) == (2, "already_queued", "queued")

    consumers(env)
    running = env.submit(images("hang"))
    env.wait_for(running, lambda s: s["state"] == "processing", 20, "processing")
    code, out, _ = env.run("retry", "--job-id", running)
    assert (code, out["code"]) == (2, "still_processing")
    env.run("cancel", "--job-id", running)

    assert env.wait(queued)["state"] == "done"
    code, out, _ = env.run("retry", "--job-id", queued)
    assert (code, out["code"], out["state"]) == (2, "already_done", "done")
    assert env.status(queued)["attempts"] == 1

    code, out, _ = env.run("retry", "--job-id", "0" * 32)
    assert (code, out["code"]) == (3, "job_not_found")
    code, out, _ = env.run("retry", "--job-id", "../etc")
    assert (code, out["code"]) == (2, "invalid_job_id")


def test_retry_runs_an_unsolved_job_again(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("unsolved"))
    assert env.wait(job_id)["state"] == "done"
    code, out, _ = env.run("retry", "--job-id", job_id)
    assert (code, out["state"], out["attempts"]) == (0, "queued", 2)
    assert env.wait(job_id)["state"] == "done"
    assert env.status(job_id)["attempts"] == 2


def test_retry_arms_the_webhook_again(env, images):
    job_id = env.submit(images("ok"), "--notify", "http://127.0.0.1:9/hook")
    env.run("cancel", "--job-id", job_id)
    status_path = env.jobs_dir / job_id / "status.json"
    status = json.loads(status_path.read_text())
    assert status["finish_event"] == {"pending": True}
    env.run("retry", "--job-id", job_id)
    status = env.status(job_id)
    assert status["notify"]["attempts"] == 0 and status["finish_event"] is None
    assert status["max_attempts"] == 2 + 3 - 1


def test_the_python_api_retries_and_raises_with_a_code(env, images):
    job_id = env.submit(images("ok"))
    env.run("cancel", "--job-id", job_id)
    out = python_snippet(f"""
import astro_jobs
status = astro_jobs.retry({job_id!r})
print(status["state"], status["attempts"])
try:
    astro_jobs.retry({job_id!r})
except astro_jobs.BadInput as exc:
    print(exc.code)
""", env)
    assert out.split() == ["queued", "2", "already_queued"]
