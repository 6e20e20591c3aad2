"""Every command against a real consumer running the stand-in extractor."""
import json
import os
import shutil
import subprocess
import time

import pytest

from support import (
    BIN,
    REPO,
    STAND_IN,
    make_png,
    max_overlap,
    pid_alive,
    processes_with_env,
    python_snippet,
    wait_until,
)


def test_a_job_runs_to_done(env, images, consumers):
    consumer = consumers(env)
    job_id = env.submit(images("ok"), "--scale-low", "1.5", "--scale-high", "3",
                        "--scale-units", "arcminwidth", "--downsample", "2", "--timeout", "45")
    status = env.wait(job_id, timeout=30)
    assert status["state"] == "done" and status["error"] is None
    assert status["worker"]["node"] and status["worker"]["pid"] == consumer.pid
    for key in ("created_at", "updated_at", "started_at", "finished_at"):
        assert status[key].endswith("Z")
    assert status["created_at"] <= status["started_at"] <= status["finished_at"]
    assert status["attempts"] == 1

    folder = env.jobs_dir / job_id
    code, out, _ = env.run("result", "--job-id", job_id, check_json=False)
    assert code == 0
    assert out == (folder / "output" / "result.json").read_text().rstrip("\n") + "\n"
    result = json.loads(out)
    # The extractor contract: argv, working directory, own session.
    assert result["argv"] == ["--image", str(folder / "input" / "ok.png"),
                              "--output", str(folder / "output" / "result.json"),
                              "--scale-low", "1.5", "--scale-high", "3.0",
                              "--scale-units", "arcminwidth", "--downsample", "2",
                              "--timeout", "45"]
    assert result["cwd"] == str(folder / "output")
    assert result["pgid"] == result["pid"] == result["sid"]
    assert result["job_env"] == job_id
    log = (folder / "task.log").read_text()
    assert "stand-in extractor: mode ok" in log and "exited with code 0" in log
    code, text, _ = env.run("logs", "--job-id", job_id, "--tail", "1", check_json=False)
    assert code == 0 and text.strip() == log.strip().splitlines()[-1]


@pytest.mark.parametrize("mode, expected", [
    ("fail", "exited with code 3. Last lines of task.log: stand-in extractor: mode fail"
             " | something went wrong: line one | the final complaint"),
    ("garbage", "result.json is not valid JSON"),
    ("array", "result.json is not a JSON object"),
    ("noresult", "exited with code 0 but wrote no output/result.json"),
])
def test_failing_extractors_end_in_error(env, images, consumers, mode, expected):
    consumers(env)
    job_id = env.submit(images(mode))
    status = env.wait(job_id, timeout=30)
    assert status["state"] == "error"
    assert expected in status["error"]
    code, out, _ = env.run("result", "--job-id", job_id)
    assert (code, out["code"]) == (5, "job_failed")
    assert expected in out["error"]


def test_timeout_kills_the_whole_process_tree(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("grandchild"), "--timeout", "2")
    started = time.monotonic()
    status = env.wait(job_id, timeout=30)
    elapsed = time.monotonic() - started
    assert status["state"] == "error" and "timed out after 2 s" in status["error"]
    assert elapsed < 8, elapsed
    grandchild = int((env.jobs_dir / job_id / "output" / "grandchild.pid").read_text())
    assert wait_until(lambda: not pid_alive(grandchild), timeout=5)
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []


def test_processes_left_behind_by_a_finished_extractor_are_killed(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("daemon"))
    assert env.wait(job_id, timeout=30)["state"] == "done"
    grandchild = int((env.jobs_dir / job_id / "output" / "grandchild.pid").read_text())
    assert wait_until(lambda: not pid_alive(grandchild), timeout=5)


def test_cancel_a_running_job_kills_its_extractor(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("grandchild"))
    env.wait_for(job_id, lambda s: s["state"] == "processing", what="processing")
    grandchild_file = env.jobs_dir / job_id / "output" / "grandchild.pid"
    assert wait_until(grandchild_file.exists, timeout=10)
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert (code, out["state"]) == (0, "cancelled")
    assert wait_until(lambda: processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == [],
                      timeout=6)
    time.sleep(0.5)  # the run must not overwrite the cancellation afterwards
    assert env.status(job_id)["state"] == "cancelled"
    last = (env.jobs_dir / job_id / "task.log").read_text().splitlines()[-1]
    assert "extractor stopped after" in last and "(cancelled)" in last, last
    assert "did not exit" not in last
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert code == 0


def test_a_cancelled_queued_job_never_runs(env, images, consumers):
    blocker = env.submit(images("slow30"))  # 3 s on the only worker
    waiting = env.submit(images("ok"))
    env.run("cancel", "--job-id", waiting)
    consumers(env, workers=1)
    assert env.wait(blocker, timeout=30)["state"] == "done"
    time.sleep(0.5)
    status = env.status(waiting)
    assert status["state"] == "cancelled" and status["started_at"] is None
    assert not (env.jobs_dir / waiting / "task.log").exists()


def test_cancel_of_a_finished_job_is_refused(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("ok"))
    env.wait(job_id)
    code, out, _ = env.run("cancel", "--job-id", job_id)
    assert (code, out["code"]) == (2, "already_finished")
    assert env.status(job_id)["state"] == "done"


def test_status_shows_the_extractor_stage(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("stages"))
    status, seen = env.watch_stages(job_id, timeout=20)
    assert status["state"] == "done"
    assert seen[:1] == ["reading"] and "solving" in seen and seen[-1] == "annotating", seen


def test_heartbeats_are_written_while_a_job_runs(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("slow25"))
    first = env.wait_for(job_id, lambda s: s["state"] == "processing")["heartbeat_at"]
    later = env.wait_for(job_id, lambda s: s["heartbeat_at"] and s["heartbeat_at"] > first,
                         timeout=5, what="a new heartbeat")
    assert later["state"] == "processing"
    env.wait(job_id)


def test_higher_priority_runs_first(env, images, consumers):
    blocker = env.submit(images("slow10"))
    low = env.submit(images("ok", "-low"), "--priority", "-5")
    high = env.submit(images("ok", "-high"), "--priority", "7")
    consumers(env, workers=1)
    for job_id in (blocker, low, high):
        env.wait(job_id)
    assert env.status(high)["started_at"] < env.status(low)["started_at"]


def test_never_more_extractors_than_workers(env, images, consumers):
    ids = [env.submit(images("slow5", f"-{i}")) for i in range(8)]
    consumers(env, workers=3)
    spans = []
    for job_id in ids:
        status = env.wait(job_id)
        log = (env.jobs_dir / job_id / "task.log").read_text()
        assert status["state"] == "done", log
        spans.append((status["started_at"], status["finished_at"]))
    assert max_overlap(spans) == 3


def test_a_non_executable_py_extractor_runs_under_python(env, images, consumers, tmp_path):
    script = tmp_path / "extractor.py"
    shutil.copy(STAND_IN, script)
    os.chmod(script, 0o644)
    consumers(env, ASTRO_EXTRACT_BIN=str(script))
    job_id = env.submit(images("ok"))
    assert env.wait(job_id)["state"] == "done"


def test_a_missing_extractor_is_a_job_error(env, images, consumers, tmp_path):
    consumers(env, ASTRO_EXTRACT_BIN=str(tmp_path / "no-such-extractor"))
    job_id = env.submit(images("ok"))
    status = env.wait(job_id)
    assert status["state"] == "error" and "extractor not found" in status["error"]


def test_extractor_file_size_limit(env, images, consumers):
    consumers(env, ASTRO_JOBS_MAX_OUTPUT_MB="1")
    job_id = env.submit(images("bigfile"))
    status = env.wait(job_id)
    # Python ignores SIGXFSZ, so the write fails with EFBIG instead.
    assert status["state"] == "error" and "File too large" in status["error"]


def test_wait_returns_once_terminal(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("slow10"))
    started = time.monotonic()
    code, out, _ = env.run("wait", "--job-id", job_id, "--timeout", "30")
    assert code == 0 and out["state"] == "done"
    assert 0.9 < time.monotonic() - started < 15


def test_periodic_prune_task_removes_old_terminal_jobs(env, images, consumers):
    consumers(env)
    done = env.submit(images("ok"))
    env.wait(done)
    pending = env.submit(images("ok", "-pending"), "--priority", "0")
    env.run("cancel", "--job-id", pending)
    queued_env = dict(env, ASTRO_JOBS_RETENTION="0s")
    code = """
from astro_jobs import consumer
task = consumer.prune_old_jobs
assert task.task_class.__mro__[1].__name__ == "PeriodicTask", task.task_class.__mro__
print("REMOVED", consumer.huey.execute(task.s()))
"""
    assert "REMOVED 2" in python_snippet(code, queued_env)
    assert env.job_folders() == []


def test_consumer_shutdown_with_sigint_finishes_running_jobs(env, images, consumers):
    consumer = consumers(env)
    job_id = env.submit(images("slow20"))
    env.wait_for(job_id, lambda s: s["state"] == "processing")
    assert consumer.stop() == 0
    status = env.status(job_id)
    assert status["state"] == "done" and status["attempts"] == 1


def test_consumer_shutdown_with_sigterm_requeues_running_jobs(env, images, consumers):
    import signal
    # Idle workers, waiting for a wake-up when the interrupted job is requeued.
    consumer = consumers(env, workers=8)
    job_id = env.submit(images("grandchild"))
    env.wait_for(job_id, lambda s: s["state"] == "processing")
    assert wait_until((env.jobs_dir / job_id / "output" / "grandchild.pid").exists)
    started = time.monotonic()
    consumer.stop(signal.SIGTERM)
    assert time.monotonic() - started < 5
    status = env.status(job_id)
    assert status["state"] == "queued" and status["attempts"] == 2, status
    assert "consumer was stopped" in status["last_failure"]
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []
    # The next consumer runs it again.
    env.switch_input(job_id, "ok.png")
    consumers(env)
    final = env.wait(job_id)
    assert final["state"] == "done" and final["attempts"] == 2


def test_a_stopping_consumer_takes_no_job_and_hands_back_what_it_took(env, images):
    """After SIGTERM the consumer requeues what it interrupted: an idle worker of
    its own must not take a job back in the moments before the process exits."""
    taken, waiting = env.submit(images("ok", "-taken")), env.submit(images("ok", "-waiting"))
    code = f"""
from astro_jobs import consumer, queue
from astro_jobs.runner.worker import Run
task = consumer.huey.dequeue()          # a worker took this one just before the stop
assert task.args[0] == {taken!r}, task.args
queue.stop_taking_jobs()
print("DEQUEUED", consumer.huey.dequeue())
Run({taken!r}).execute()
print("QUEUE", " ".join(sorted(queue.queued_job_ids())))
"""
    out = python_snippet(code, env)
    assert "DEQUEUED None" in out
    assert f"QUEUE {' '.join(sorted([taken, waiting]))}" in out
    for job_id in (taken, waiting):
        status = env.status(job_id)
        assert status["state"] == "queued" and status["attempts"] == 1, status


def test_procfile_runs_under_honcho(env, images, tmp_path):
    log = open(tmp_path / "honcho.log", "wb")
    proc = subprocess.Popen([str(BIN / "honcho"), "-f", str(REPO / "Procfile"), "start", "worker"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        job_id = env.submit(images("ok"))
        assert env.wait(job_id, timeout=30)["state"] == "done"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
        log.close()


def test_non_ascii_and_spaces_in_names_run_end_to_end(env, consumers, tmp_path):
    folder = tmp_path / "téléversements du ciel"
    folder.mkdir()
    image = make_png(folder / "ok-Orion's belt – été.png")
    consumers(env)
    job_id = env.submit(image)
    status = env.wait(job_id)
    assert status["state"] == "done"
    result = json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())
    assert result["argv"][1] == str(env.jobs_dir / job_id / "input" / image.name)


def test_a_job_folder_deleted_under_a_running_job(env, images, consumers):
    """The run loses its job (an operator's rm -rf): the extractor is stopped,
    the consumer carries on."""
    consumer = consumers(env)
    job_id = env.submit(images("hang"))
    env.wait_for(job_id, lambda s: (s["worker"] or {}).get("pgid"), what="extractor started")
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}")
    shutil.rmtree(env.jobs_dir / job_id)
    assert wait_until(lambda: processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == [],
                      timeout=10)
    assert consumer.proc.poll() is None
    assert env.wait(env.submit(images("ok")))["state"] == "done"
