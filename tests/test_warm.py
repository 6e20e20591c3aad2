"""The warm extractor (extract/warm.py, runner/warm.py) under a real consumer
with the real solve-field: jobs are forked children of one long-lived
process per worker thread; a cancel, a timeout or a SIGKILL ends the job's
processes and nothing else, and the next job solves."""
import json
import os
import signal

from support import CORPUS, pid_alive, processes_with_env, wait_until

JOB_MARKER = "ASTRO_JOBS_JOB_ID"


def _parent(pid):
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return int(handle.read().rsplit(b")", 1)[1].split()[1])


def _cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().split(b"\0")


def _running(env, job_id):
    """The job's extractor pid once it is solving (its process group's leader)."""
    status = env.wait_for(job_id, lambda s: s["state"] != "queued" and s.get("stage") == "solving"
                          or s["state"] in ("done", "error"), timeout=60, what="solving")
    assert status["state"] == "processing", status
    return status["worker"]["pgid"]


def _solves(env, image="apod2.jpg"):
    job_id = env.submit(CORPUS / image)
    status = env.wait(job_id, timeout=120)
    assert status["state"] == "done", (status, (env.jobs_dir / job_id / "task.log").read_text())
    result = json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())
    assert result["solved"] is True and result["calibration"]["matched_stars"] >= 6
    assert result["files"]["annotated"] and result["files"]["corr"]
    return status


def _gone(job_id, pid):
    """Nothing of the job lives on: its extractor, and whatever carries its marker."""
    assert wait_until(lambda: not pid_alive(pid) and not processes_with_env(
        f"{JOB_MARKER}={job_id}"), timeout=15), (pid, processes_with_env(
            f"{JOB_MARKER}={job_id}"))


def test_a_cancelled_job_leaves_nothing_and_the_server_serves_the_next(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumer = consumers(env, workers=1)
    job_id = env.submit(CORPUS / "apod5.jpg")  # unsolvable: searches for seconds
    pid = _running(env, job_id)
    server = _parent(pid)
    assert server != consumer.pid and _parent(server) == consumer.pid
    assert b"astro_jobs.extract.warm" in _cmdline(server)
    assert processes_with_env(f"{JOB_MARKER}={job_id}"), "solve-field should be running"
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert code == 0 and out["state"] == "cancelled"
    _gone(job_id, pid)
    assert pid_alive(server)
    _solves(env)
    again = env.submit(CORPUS / "apod5.jpg")
    assert _parent(_running(env, again)) == server  # the same warm extractor
    env.run("cancel", "--job-id", again)


def test_a_timed_out_job_is_killed_and_the_next_solves(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env, workers=1)
    job_id = env.submit(CORPUS / "apod5.jpg", "--timeout", "12")
    pid = _running(env, job_id)
    # A hung extractor: only the runner's timeout can end it now.
    os.kill(pid, signal.SIGSTOP)
    status = env.wait(job_id, timeout=60)
    assert status["state"] == "error" and "time" in status["error"], status
    _gone(job_id, pid)
    _solves(env)


def test_a_job_killed_by_sigkill_ends_in_error_and_the_next_solves(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env, workers=1)
    job_id = env.submit(CORPUS / "apod5.jpg")
    pid = _running(env, job_id)
    os.kill(pid, signal.SIGKILL)
    status = env.wait(job_id, timeout=60)
    assert status["state"] == "error" and "SIGKILL" in status["error"], status
    _gone(job_id, pid)
    _solves(env)


def test_the_warm_extractor_killed_mid_job_is_started_again(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env, workers=1)
    job_id = env.submit(CORPUS / "apod5.jpg")
    pid = _running(env, job_id)
    server = _parent(pid)
    os.kill(server, signal.SIGKILL)
    status = env.wait(job_id, timeout=60)
    assert status["state"] == "error", status
    _gone(job_id, pid)
    assert not pid_alive(server)
    _solves(env)
    again = env.submit(CORPUS / "apod5.jpg")
    respawned = _parent(_running(env, again))
    assert respawned != server and b"astro_jobs.extract.warm" in _cmdline(respawned)
    env.run("cancel", "--job-id", again)


def test_cold_when_turned_off(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumer = consumers(env, workers=1, ASTRO_JOBS_WARM_SOLVER="0")
    job_id = env.submit(CORPUS / "apod5.jpg")
    pid = _running(env, job_id)
    assert _parent(pid) == consumer.pid
    assert _cmdline(pid)[1:3] == [b"-m", b"astro_jobs.extract"]
    env.run("cancel", "--job-id", job_id)
    _gone(job_id, pid)
