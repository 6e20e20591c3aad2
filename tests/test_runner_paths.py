"""Paths of the runner an operator's bad day takes: an extractor that ignores
SIGTERM or dies of a signal, the periodic prune as the consumer schedules it,
SIGINT, and long healthy jobs under the recovery sweep of other nodes."""
import json
import math
import signal
import sqlite3
import time

from astro_jobs.timefmt import parse_iso

from support import processes_with_env, skewed_clock, wait_until

TERM_GRACE = 3.0  # process.TERM_GRACE


def test_an_extractor_that_ignores_sigterm_is_killed(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("stubborn"), "--timeout", "1")
    final = env.wait(job_id, timeout=30)
    assert final["state"] == "error" and "timed out after 1 s" in final["error"], final
    # SIGTERM was ignored: SIGKILL came only after the grace period.
    ran = parse_iso(final["finished_at"]) - parse_iso(final["started_at"])
    assert ran >= 1 + TERM_GRACE - 0.3, ran
    assert processes_with_env(f"ASTRO_JOBS_JOB_ID={job_id}") == []
    assert "(timeout)" in (env.jobs_dir / job_id / "task.log").read_text()


def test_an_extractor_killed_by_a_signal_is_an_error_naming_it(env, images, consumers):
    consumers(env)
    final = env.wait(env.submit(images("segfault")))
    assert final["state"] == "error", final
    assert "the extractor was killed by signal SIGSEGV" in final["error"], final["error"]
    assert final["attempts"] == 1  # a crash of the extractor is not retried


def test_the_consumer_prunes_on_its_schedule(env, images, consumers):
    """Every five minutes by the consumer's clock (huey crontab), jobs finished
    longer than ASTRO_JOBS_RETENTION ago go; nothing else does."""
    env["ASTRO_JOBS_RETENTION"] = "1s"
    first = consumers(env)
    finished = [env.submit(images("ok")), env.submit(images("fail"))]
    assert [env.wait(j)["state"] for j in finished] == ["done", "error"]
    assert first.stop(signal.SIGINT) == 0
    waiting = env.submit(images("hang"))
    time.sleep(1.1)
    # The next consumer starts 20 s into a minute that is a multiple of
    # five: its scheduler's first check of periodic tasks runs the prune.
    now = time.time()
    ahead = int(math.floor(now / 300) * 300 + 300 - now) + 20
    second = consumers(skewed_clock(env, ahead))
    assert wait_until(lambda: not any((env.jobs_dir / j).exists() for j in finished),
                      timeout=15), env.job_folders()
    assert (env.jobs_dir / waiting).is_dir()
    assert "Executing astro_jobs.consumer.prune_old_jobs" in second.output()


def test_sigint_finishes_running_jobs_and_leaves_the_rest_queued(env, images, consumers):
    first = consumers(env, workers=1)
    running = env.submit(images("slow20"))
    waiting = [env.submit(images("ok", f"-{n}")) for n in range(2)]
    env.wait_for(running, lambda s: (s["worker"] or {}).get("pgid"), what="job running")
    assert first.stop(signal.SIGINT) == 0
    assert env.status(running)["state"] == "done"
    for job_id in waiting:
        assert env.status(job_id)["state"] == "queued"
    with sqlite3.connect(env.jobs_dir / "queue.sqlite3") as db:
        assert db.execute("select count(*) from task").fetchone()[0] == len(waiting)
    consumers(env)
    for job_id in waiting:
        final = env.wait(job_id)
        assert final["state"] == "done" and final["attempts"] == 1
    assert env.status(running)["attempts"] == 1


def test_long_healthy_jobs_are_never_rerun_by_other_nodes_sweeps(env, images, consumers):
    """Jobs as long as 20 heartbeats (at least 10 of them counted: a loaded
    machine's supervisor loop beats late), no stage change: only the heartbeat
    counter says alive, and no other node's sweep re-runs them."""
    env["ASTRO_JOBS_HEARTBEAT"] = "0.3"
    consumers(env, ASTRO_JOBS_NODE="node-a")
    consumers(env, ASTRO_JOBS_NODE="node-b")
    jobs = [env.submit(images("slow60", f"-{n}")) for n in range(3)]
    for job_id in jobs:
        final = env.wait(job_id, timeout=60)
        assert final["state"] == "done" and final["attempts"] == 1, final
        assert final["beat"] >= 10, final
        log = (env.jobs_dir / job_id / "task.log").read_text()
        assert log.count(" attempt ") == 1 and "outcome discarded" not in log
        status = json.loads((env.jobs_dir / job_id / "status.json").read_text())
        assert status.get("last_failure") is None
