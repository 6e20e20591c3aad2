"""`stats` and the consumer registry (astro_jobs/store/consumers.py, issue 9): a
killed consumer is shown not alive, in JSON and for Prometheus, once its last
beat is older than the registry's limit (3 heartbeats + 1 s)."""
import time

from prometheus_client.parser import text_string_to_metric_families

from support import wait_until


def test_a_killed_consumer_is_shown_not_alive_after_3_heartbeats_and_1_s(env, images,
                                                                         consumers):
    """Seen from another node: not alive within 3 x 0.5 s + 1 s of the kill, plus
    1.5 s for one `stats` run on a loaded machine (each run is a fresh process)."""
    consumer = consumers(env)  # ASTRO_JOBS_HEARTBEAT=0.5 (conftest)
    job_id = env.submit(images("hang"))
    env.wait_for(job_id, lambda s: s["state"] == "processing", 20, "processing")
    out = env.run("stats")[1]
    seen = [c for c in out["consumers"] if c["pid"] == consumer.pid]
    assert len(seen) == 1 and seen[0]["alive"] is True
    assert seen[0]["running"] == [job_id] and seen[0]["workers"] == 2
    assert {"node", "started_at", "last_seen"} <= set(seen[0])
    assert out["consumers_alive"] == 1

    consumer.kill()
    killed = time.monotonic()
    # Seen from another node, only the missing heartbeats tell.
    elsewhere = type(env)(env, ASTRO_JOBS_NODE="observer-node")

    def dead_from_elsewhere():
        found = elsewhere.run("stats")[1]
        return found if found["consumers_alive"] == 0 else None
    found = wait_until(dead_from_elsewhere, timeout=10, interval=0.2)
    assert found, "the killed consumer still shows alive"
    assert time.monotonic() - killed <= 3 * 0.5 + 1 + 1.5  # 3 beats + 1 s, + a slow poll
    assert [c["alive"] for c in found["consumers"] if c["pid"] == consumer.pid] == [False]
    # On its own node, its dead pid settles it at once.
    assert env.run("stats")[1]["consumers_alive"] == 0
    text = env.run("stats", "--format", "prometheus", check_json=False)[1]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("astro_jobs_consumer_up", (("node", found["consumers"][0]["node"]),
                                               ("pid", str(consumer.pid))))] == 0
    assert samples[("astro_jobs_consumers_alive", ())] == 0
