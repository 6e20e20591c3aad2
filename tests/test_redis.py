"""The Redis queue and consumers on several nodes sharing one JOBS_DIR.

A real ``redis-server`` on 127.0.0.1, real consumers started with the
Procfile's command, each naming itself with ASTRO_JOBS_NODE. Two consumers
on one machine with different node names are, to astro-jobs, two nodes: a
job of node-a can be judged dead by node-b only through its heartbeats.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from support import REDIS_SERVER, RedisServer, free_port, python_snippet, redis_command, wait_until

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    """One redis-server for this module, without persistence; shut down after."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.port
    finally:
        server.stop()


@pytest.fixture
def renv(env, redis_port):
    """The CLI environment on an empty Redis queue."""
    redis_command(redis_port, "FLUSHALL")
    env["ASTRO_JOBS_QUEUE_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env.redis_port = redis_port
    return env


def statuses(env, job_ids):
    return {job_id: json.loads((env.jobs_dir / job_id / "status.json").read_text())
            for job_id in job_ids}


def wait_all_done(env, job_ids, timeout=60):
    for job_id in job_ids:
        final = env.wait(job_id, timeout=timeout)
        assert final["state"] == "done", final
    return statuses(env, job_ids)


def blocked_pops(port):
    """How many Redis clients sit in BZPOPMIN right now."""
    return redis_command(port, "CLIENT", "LIST").count(b"cmd=bzpopmin")


def test_two_nodes_share_the_work(renv, images, consumers):
    consumers(renv, 2, ASTRO_JOBS_NODE="node-a")
    consumers(renv, 2, ASTRO_JOBS_NODE="node-b")
    jobs = [renv.submit(images("slow5", f"-{i}")) for i in range(8)]
    final = wait_all_done(renv, jobs)
    nodes = {status["worker"]["node"] for status in final.values()}
    assert nodes == {"node-a", "node-b"}, nodes
    assert all(status["attempts"] == 1 for status in final.values())


def test_a_lost_node_loses_no_job(renv, images, consumers):
    """node-a dies mid-work (consumer and extractors SIGKILLed, as when its
    machine goes); node-b re-runs its jobs once their heartbeats go stale."""
    node_a = consumers(renv, 2, ASTRO_JOBS_NODE="node-a")
    consumers(renv, 2, ASTRO_JOBS_NODE="node-b")
    jobs = [renv.submit(images("slow30", f"-{i}")) for i in range(6)]

    def running_on_a():
        found = {job_id: status for job_id, status in statuses(renv, jobs).items()
                 if status["state"] == "processing" and status["worker"]["node"] == "node-a"
                 and status["worker"].get("pgid")}
        return found
    on_a = wait_until(running_on_a, timeout=30)
    assert on_a, "node-a never ran a job"
    node_a.kill()
    for status in on_a.values():
        try:
            os.killpg(status["worker"]["pgid"], signal.SIGKILL)
        except ProcessLookupError:
            pass

    final = wait_all_done(renv, jobs, timeout=90)
    for job_id in on_a:
        status = final[job_id]
        assert status["worker"]["node"] == "node-b", status
        assert status["attempts"] == 2, status
        assert "node node-a" in status["last_failure"], status
    nodes = {status["worker"]["node"] for status in final.values()}
    assert nodes == {"node-b"} or nodes == {"node-a", "node-b"}


def test_pickup_is_immediate_with_the_blocking_pop(renv, images, consumers):
    consumers(renv, 1, ASTRO_JOBS_NODE="node-a")
    # The idle worker waits inside Redis (BZPOPMIN), not in a sleep loop.
    assert wait_until(lambda: blocked_pops(renv.redis_port) >= 1, timeout=10)
    job_id = renv.submit(images("ok"))
    final = renv.wait(job_id, timeout=30)
    assert final["state"] == "done"
    latency = _epoch(final["started_at"]) - _epoch(final["created_at"])
    assert latency < 2.0, f"picked up after {latency:.2f} s"  # generous: a noisy machine


def test_priority_order_is_honoured(renv, images, consumers):
    low = [renv.submit(images("ok", f"-low{i}"), "--priority", "-5") for i in range(3)]
    normal = renv.submit(images("ok", "-normal"))
    high = renv.submit(images("ok", "-high"), "--priority", "10")
    # The recovery sweep reads the Redis queue through huey.pending().
    held = python_snippet("from astro_jobs.queue import queued_job_ids\n"
                          "print(' '.join(sorted(queued_job_ids())))", renv).split()
    assert sorted(held) == sorted(low + [normal, high])
    consumers(renv, 1, ASTRO_JOBS_NODE="node-a")
    final = wait_all_done(renv, low + [normal, high])
    order = sorted(final, key=lambda job_id: final[job_id]["started_at"])
    assert order[:2] == [high, normal], order
    assert order[2:] == low, order  # equal priority: first in, first out


def test_the_sweep_re_enqueues_jobs_the_queue_lost(renv, images, consumers):
    """Redis restarted without persistence: the job folders bring the work back."""
    jobs = [renv.submit(images("ok", f"-{i}")) for i in range(3)]
    redis_command(renv.redis_port, "FLUSHALL")
    consumers(renv, 2, ASTRO_JOBS_NODE="node-a")
    final = wait_all_done(renv, jobs, timeout=60)
    assert all(status["attempts"] == 1 for status in final.values())


def test_sigterm_requeues_a_running_job_that_no_idle_worker_takes_back(renv, images, consumers):
    """Idle workers sit in BZPOPMIN when the interrupted job is pushed back:
    a stopping consumer must not run it again, the next one does."""
    consumer = consumers(renv, 8, ASTRO_JOBS_NODE="node-a")
    job_id = renv.submit(images("grandchild"))
    renv.wait_for(job_id, lambda s: s["state"] == "processing")
    assert wait_until((renv.jobs_dir / job_id / "output" / "grandchild.pid").exists)
    consumer.stop(signal.SIGTERM)
    status = renv.status(job_id)
    assert status["state"] == "queued" and status["attempts"] == 2, status
    # The next consumer runs it again, on a well-behaved image.
    renv.switch_input(job_id, "ok.png")
    consumers(renv, 2, ASTRO_JOBS_NODE="node-b")
    final = renv.wait(job_id, timeout=60)
    assert final["state"] == "done" and final["attempts"] == 2, final


def test_periodic_prune_runs_through_redis(renv, images, consumers):
    job_id = renv.submit(images("ok"))
    consumer = consumers(renv, 1, ASTRO_JOBS_NODE="node-a", ASTRO_JOBS_RETENTION="1s")
    assert renv.wait(job_id)["state"] == "done"
    time.sleep(1.2)
    # The periodic task is an ordinary Huey task: enqueue it now rather than
    # wait for its five-minute schedule.
    python_snippet("from astro_jobs.consumer import prune_old_jobs\nprune_old_jobs()", renv)
    assert wait_until(lambda: job_id not in renv.job_folders(), timeout=20), consumer.output()


def test_unreachable_redis_is_a_clear_error(renv, images):
    renv["ASTRO_JOBS_QUEUE_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = renv.run("submit", "--image", images("ok"))
    assert code == 1, out
    assert out["code"] == "queue_unavailable", out
    assert "connect" in out["error"].lower(), out
    assert renv.job_folders() == []


def test_missing_redis_package_is_a_clear_error(renv, images):
    code = ("import sys\nsys.modules['redis'] = None\n"
            "from astro_jobs.cli import main\nsys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "submit", "--image", images("ok")],
                          env=renv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["code"] == "redis_missing", out
    assert "astro-jobs[redis]" in out["error"]
    assert renv.job_folders() == []


def test_sqlite_queue_never_imports_redis(env, images):
    """Without ASTRO_JOBS_QUEUE_URL neither submit nor the consumer loads redis."""
    out = python_snippet(
        "import sys, astro_jobs\n"
        f"astro_jobs.submit({str(images('ok'))!r})\n"
        "import astro_jobs.consumer\n"
        "huey = astro_jobs.consumer.huey\n"
        "print(type(huey).__name__, 'redis' in sys.modules)", env)
    assert out.split() == ["SqliteHuey", "False"]


def _epoch(stamp):
    from datetime import datetime
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
