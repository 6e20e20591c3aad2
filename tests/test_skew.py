"""Liveness that does not depend on synchronised clocks.

Three nodes share one JOBS_DIR: one with a true clock, one whose wall clock
is 2 minutes ahead and one 2 minutes behind (libfaketime, as after an NTP
failure). A run is alive while its heartbeat counter moves, as each observer
sees it on its own monotonic clock; so no live job is re-run, however far
the clocks disagree, and a dead node's job is still taken back within three
heartbeats plus one sweep, by a node of either skew.
"""
import time

import pytest

from astro_jobs.timefmt import parse_iso

from support import RedisServer, skewed_clock

HEARTBEAT = 0.3
STALE_AFTER = 3 * HEARTBEAT + 1  # config.stale_after_seconds()
# Three heartbeats plus one sweep, plus one heartbeat of observation lag (the
# observer sees a beat up to a sweep after it is written) and a margin for a
# busy machine.
RECOVERED_WITHIN = STALE_AFTER + 2 * HEARTBEAT + 1.5


@pytest.fixture(params=["sqlite", "redis"])
def nodes_env(request, env, tmp_path):
    env["ASTRO_JOBS_HEARTBEAT"] = str(HEARTBEAT)
    if request.param == "sqlite":
        yield env
        return
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    env["ASTRO_JOBS_QUEUE_URL"] = server.url
    try:
        yield env
    finally:
        server.stop()


def _processing(attempt):
    return lambda s: s["state"] == "processing" and s["attempts"] == attempt \
        and (s["worker"] or {}).get("pgid")


def _kill_and_time_recovery(env, node, job_id, attempt):
    """Kill ``node``; seconds until another node took the job back, and its status."""
    node.kill()
    killed = time.monotonic()
    status = env.wait_for(job_id, lambda s: s["attempts"] == attempt + 1, timeout=30,
                          what=f"attempt {attempt} taken back")
    took = time.monotonic() - killed
    assert "its worker died during attempt" in status["last_failure"], status
    return took, env.wait_for(job_id, _processing(attempt + 1), timeout=10,
                              what=f"attempt {attempt + 1} running")


def test_skewed_clocks_neither_rerun_live_jobs_nor_strand_dead_ones(nodes_env, images,
                                                                      consumers):
    env = nodes_env
    nodes = {"node-true": consumers(env, ASTRO_JOBS_NODE="node-true")}
    long_job = env.submit(images("hang"), "--timeout", "90")
    env.wait_for(long_job, _processing(1), what="long job running on node-true")
    nodes["node-ahead"] = consumers(skewed_clock(env, 120), ASTRO_JOBS_NODE="node-ahead")
    nodes["node-behind"] = consumers(skewed_clock(env, -120), ASTRO_JOBS_NODE="node-behind")

    # Healthy jobs of ten heartbeats each, on whichever node takes them.
    short = [env.submit(images("slow30", f"-{n}")) for n in range(4)]
    for job_id in short:
        final = env.wait(job_id, timeout=60)
        assert final["state"] == "done" and final["attempts"] == 1, final
    # The long job, watched all along by the two skewed nodes, was never re-run.
    assert env.status(long_job)["attempts"] == 1

    # node-true dies: a skewed node takes its job back in time.
    took, rerun = _kill_and_time_recovery(env, nodes.pop("node-true"), long_job, 1)
    assert took < RECOVERED_WITHIN, f"recovered after {took:.1f} s"
    # The new run, on a skewed node, stays alive under the other skewed node.
    time.sleep(2 * STALE_AFTER)
    assert env.status(long_job)["attempts"] == 2

    # That node dies too: the node of the opposite skew takes the job back.
    runner = rerun["worker"]["node"]
    assert runner in nodes
    # Its clock is really off: it wrote its heartbeat two minutes away from ours.
    skew = parse_iso(env.status(long_job)["heartbeat_at"]) - time.time()
    assert abs(abs(skew) - 120) < 10, skew
    took, third = _kill_and_time_recovery(env, nodes.pop(runner), long_job, 2)
    assert took < RECOVERED_WITHIN, f"recovered after {took:.1f} s"
    assert third["worker"]["node"] == next(iter(nodes))
    code, out, _ = env.run("cancel", "--job-id", long_job)
    assert code == 0 and out["state"] == "cancelled"
