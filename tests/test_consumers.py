"""The consumer registry: each consumer says it is alive under JOBS_DIR."""
import json
import os
import signal
import time

from support import python_snippet, wait_until


def registry(env):
    folder = env.jobs_dir / "consumers"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")} \
        if folder.is_dir() else {}


def listed(env):
    code = "import json, astro_jobs.store.consumers as c; print(json.dumps(c.list_consumers()))"
    return json.loads(python_snippet(code, env))


def test_a_consumer_registers_beats_and_leaves_on_a_clean_stop(env, consumers):
    consumer = consumers(env, workers=3)
    entries = wait_until(lambda: registry(env), timeout=10)
    assert len(entries) == 1
    (instance, record), = entries.items()
    assert record["pid"] == consumer.pid and record["instance"] == instance
    assert wait_until(lambda: registry(env)[instance]["workers"] == 3, timeout=5)
    assert record["node"] and record["started_at"].endswith("Z")
    first = registry(env)[instance]["beat"]
    # ASTRO_JOBS_HEARTBEAT is 0.5 s in the tests: the file is refreshed.
    assert wait_until(lambda: registry(env)[instance]["beat"] >= first + 3, timeout=5)
    assert registry(env)[instance]["last_seen"] > record["last_seen"]
    [seen] = listed(env)
    assert seen["alive"] is True and seen["pid"] == consumer.pid and seen["workers"] == 3
    assert oct(os.stat(env.jobs_dir / "consumers").st_mode & 0o777) == "0o770"

    assert consumer.stop(signal.SIGINT) == 0
    assert registry(env) == {}
    assert listed(env) == []


def test_a_killed_consumer_is_seen_dead(env, consumers):
    consumer = consumers(env)
    assert wait_until(lambda: registry(env), timeout=10)
    consumer.kill()
    # Its file stays (nothing ran), but its pid is gone on this node.
    [seen] = listed(env)
    assert seen["alive"] is False and seen["pid"] == consumer.pid


def test_another_node_is_judged_by_its_heartbeat(env, consumers):
    consumer = consumers(env, ASTRO_JOBS_NODE="node-elsewhere")
    assert wait_until(lambda: registry(env), timeout=10)
    assert listed(env)[0]["alive"] is True
    consumer.send(signal.SIGSTOP)  # frozen: no beats, pid still there
    try:
        # 3 beats of 0.5 s and 1 s of margin.
        assert wait_until(lambda: listed(env)[0]["alive"] is False, timeout=8, interval=0.5)
    finally:
        consumer.send(signal.SIGCONT)
    assert wait_until(lambda: listed(env)[0]["alive"] is True, timeout=5)


def test_files_older_than_a_day_are_removed(env):
    folder = env.jobs_dir / "consumers"
    folder.mkdir(parents=True)
    old = {"node": "gone", "pid": 1, "instance": "abcdef012345", "workers": 2,
           "started_at": "2020-01-01T00:00:00.000Z", "last_seen": "2020-01-01T00:00:00.000Z",
           "heartbeat_s": 10, "beat": 7}
    (folder / "abcdef012345.json").write_text(json.dumps(old))
    recent = dict(old, instance="0123456789ab", node="other-node",
                  last_seen=time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                          time.gmtime(time.time() - 3600)))
    (folder / "0123456789ab.json").write_text(json.dumps(recent))
    (folder / "not-ours.txt").write_text("left alone")
    [seen] = listed(env)
    assert seen["instance"] == "0123456789ab" and seen["alive"] is False
    assert 3500 < seen["age_s"] < 3700
    assert sorted(p.name for p in folder.iterdir()) == ["0123456789ab.json", "not-ours.txt"]
