"""Nothing lost: dead consumers, lost queue entries, stale runs, load."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from support import REPO, processes_with_env, wait_until


def test_a_job_whose_consumer_was_killed_runs_again(env, images, consumers):
    first = consumers(env)
    job_id = env.submit(images("grandchild"), "--timeout", "60")
    extractor = env.wait_for(job_id, lambda s: (s["worker"] or {}).get("pgid"),
                             what="extractor started")["worker"]["pgid"]
    grandchild = env.jobs_dir / job_id / "output" / "grandchild.pid"
    assert wait_until(grandchild.exists, timeout=20)
    first.kill()
    # The extractor dies with its consumer (parent-death signal) ...
    assert wait_until(lambda: extractor not in processes_with_env(
        f"ASTRO_JOBS_JOB_ID={job_id}"), timeout=10)
    assert env.status(job_id)["state"] == "processing"  # nobody knows yet
    # Make the second run succeed: the same job, a well-behaved image.
    env.switch_input(job_id, "ok.png")
    second = consumers(env)
    final = env.wait(job_id, timeout=30)
    # ... and what it left running is killed by the next consumer's sweep.
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []
    assert final["state"] == "done" and final["attempts"] == 2
    assert final["worker"]["pid"] == second.pid
    assert "its worker died during attempt 1" in final["last_failure"]


def test_a_job_past_its_attempt_limit_ends_in_error(env, images, consumers):
    env["ASTRO_JOBS_MAX_ATTEMPTS"] = "2"
    for attempt in (1, 2):
        consumer = consumers(env)
        if attempt == 1:
            job_id = env.submit(images("hang"))
        env.wait_for(job_id, lambda s, n=attempt: s["state"] == "processing"
                     and s["attempts"] == n, what=f"attempt {attempt} running")
        consumer.kill()
    consumers(env)
    final = env.wait(job_id, timeout=30)
    assert final["state"] == "error" and final["attempts"] == 2
    assert "died during attempt 2 of 2" in final["error"] and "giving up" in final["error"]


def test_a_queued_job_missing_from_the_queue_is_enqueued_again(env, images, consumers):
    job_id = env.submit(images("ok"))
    # A crash between publishing the folder and enqueueing, or between
    # dequeue and claim, looks like this: the queue no longer has the job.
    with sqlite3.connect(env.jobs_dir / "queue.sqlite3") as db:
        assert db.execute("delete from task").rowcount == 1
    consumers(env)
    final = env.wait(job_id, timeout=30)
    assert final["state"] == "done" and final["attempts"] == 1


def test_a_run_declared_dead_cannot_overwrite_the_newer_attempt(env, images, consumers):
    """A frozen node comes back after its job was re-run elsewhere."""
    node_a = consumers(env, ASTRO_JOBS_NODE="node-a")
    job_id = env.submit(images("slow40"))
    env.wait_for(job_id, lambda s: (s["worker"] or {}).get("pgid"), what="extractor started")
    frozen_group = env.status(job_id)["worker"]["pgid"]
    # Freeze node A whole: its consumer and its extractor.
    os.kill(node_a.pid, signal.SIGSTOP)
    os.killpg(frozen_group, signal.SIGSTOP)
    try:
        consumers(env, ASTRO_JOBS_NODE="node-b")
        rerun = env.wait_for(job_id, lambda s: s["state"] == "processing"
                             and s["worker"]["node"] == "node-b", timeout=20,
                             what="re-run on node B")
        assert rerun["attempts"] == 2
    finally:
        os.killpg(frozen_group, signal.SIGCONT)
        os.kill(node_a.pid, signal.SIGCONT)
    final = env.wait(job_id, timeout=30)
    time.sleep(1.5)  # node A has long noticed by now; it must not have written
    final = env.status(job_id)
    assert final["state"] == "done" and final["attempts"] == 2
    assert final["worker"]["node"] == "node-b"
    log = (env.jobs_dir / job_id / "task.log").read_text()
    assert "attempt 1 on node-a" in log and "(superseded)" in log


def test_many_submitters_and_consumers_lose_nothing(env, images, consumers):
    """12 processes submit 15 jobs each while two consumers run them."""
    consumers(env, workers=2)
    consumers(env, workers=2)
    image = images("ok")
    script = (
        "import astro_jobs, json, sys\n"
        "ids = []\n"
        "for _ in range(15):\n"
        f"    ids.append(astro_jobs.submit({str(image)!r}))\n"
        "print(json.dumps(ids))\n")
    submitters = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(12)]
    ids = []
    for proc in submitters:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == "", err
        ids += json.loads(out)
    # The CLI under the same load: a few concurrent submits must all succeed.
    cli = [subprocess.Popen(["astro-jobs", "submit", "--image", str(image)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for _ in range(8)]
    for proc in cli:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "locked" not in err, (out, err)
        ids.append(json.loads(out)["job_id"])
    assert len(ids) == len(set(ids)) == 188
    deadline = time.monotonic() + 120
    for job_id in ids:
        status = env.wait(job_id, timeout=max(1, deadline - time.monotonic()))
        assert status["state"] == "done", status
        assert json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())[
            "job_env"] == job_id


def test_extractor_memory_limit(env, images, consumers):
    consumers(env, ASTRO_JOBS_MAX_MEMORY_MB="300")
    job_id = env.submit(images("memhog"))
    status = env.wait(job_id)
    assert status["state"] == "error" and "MemoryError" in status["error"]


def test_job_files_are_not_world_writable(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("ok"))
    env.wait(job_id)
    for root, dirs, files in os.walk(env.jobs_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            assert not os.stat(path).st_mode & 0o002, path


