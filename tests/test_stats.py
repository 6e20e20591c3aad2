"""`stats`: counts, oldest queued job, recent run times, the index of finished
jobs, the Prometheus rendering (parsed by prometheus_client), and consumers."""
import json
import os
import time

from prometheus_client.parser import text_string_to_metric_families

from support import job_status, python_snippet, write_job


def hex_id(number):
    return f"{number:032x}"


def make_known_jobs(jobs_dir):
    """Jobs whose figures are known by construction; their ids by group."""
    groups = {}
    now = time.time()

    def add(group, state, created_ago, started_ago=None, finished_ago=None):
        job_id = hex_id(len(sum(groups.values(), [])) + 1)
        def ago(seconds):
            return None if seconds is None else now - seconds
        write_job(jobs_dir, job_status(job_id, state, ago(created_ago), ago(started_ago),
                                       ago(finished_ago)))
        groups.setdefault(group, []).append(job_id)

    for run in range(1, 11):  # done a minute ago, runs of 1 to 10 s
        add("recent_done", "done", 100, 60 + run, 60)
    for _ in range(2):  # failed two minutes ago after 3 s
        add("recent_error", "error", 200, 123, 120)
    add("recent_cancelled", "cancelled", 90, None, 60)  # cancelled while queued
    for _ in range(4):  # done half an hour ago after 20 s
        add("hour_done", "done", 2000, 1820, 1800)
    add("old_done", "done", 9000, 8000, 7500)  # in neither window
    add("queued", "queued", 100)
    add("queued", "queued", 50)
    add("processing", "processing", 30, 20)
    return groups


def corrupt_jobs(jobs_dir):
    for number, text in enumerate(['{"job_id": "x", "state": "do', "[]",
                                   '{"state": "thinking"}'], 900):
        folder = jobs_dir / hex_id(number)
        folder.mkdir()
        (folder / "status.json").write_text(text)


def test_stats_counts_windows_and_percentiles(env):
    make_known_jobs(env.jobs_dir)
    corrupt_jobs(env.jobs_dir)
    code, out, _ = env.run("stats")
    assert code == 0
    assert out["jobs"] == {"queued": 2, "processing": 1, "done": 15, "error": 2,
                           "cancelled": 1, "corrupt": 3}
    assert out["total"] == 24
    assert 99 <= out["oldest_queued_seconds"] < 110
    five = out["recent"]["5m"]
    assert (five["finished"], five["done"], five["error"], five["cancelled"]) == (13, 10, 2, 1)
    assert five["error_share"] == round(2 / 13, 4)
    # Run times 1..10 s and 3, 3: nearest-rank median of 12 is the 6th (4 s), p95 the 12th.
    assert five["run_seconds"] == {"count": 12, "sum": 61.0, "median": 4.0, "p95": 10.0}
    hour = out["recent"]["60m"]
    assert (hour["finished"], hour["done"]) == (17, 14)
    assert hour["run_seconds"]["p95"] == 20.0


def test_stats_of_an_empty_or_missing_jobs_dir(env):
    code, out, _ = env.run("stats")
    assert code == 0 and out["total"] == 0 and out["oldest_queued_seconds"] is None
    assert out["recent"]["5m"]["run_seconds"]["median"] is None


def test_the_index_spares_finished_folders(env):
    groups = make_known_jobs(env.jobs_dir)
    index = env.jobs_dir / ".stats-index.json"
    first = env.run("stats")[1]
    finished = sum((groups[g] for g in groups if g not in ("queued", "processing")), [])
    assert sorted(json.loads(index.read_text())["ids"]) == sorted(finished)

    # A finished job is not read again: stats still sees it as it was.
    spoiled = env.jobs_dir / groups["old_done"][0] / "status.json"
    spoiled.write_text("not read")
    assert env.run("stats")[1]["jobs"] == first["jobs"]
    # Only a lost index makes stats read it again.
    index.unlink()
    assert env.run("stats")[1]["jobs"] == dict(first["jobs"], done=14, corrupt=1)
    assert index.exists()
    index.write_text("{half written")
    assert env.run("stats")[1]["jobs"] == dict(first["jobs"], done=14, corrupt=1)

    # Pruned jobs leave the index.
    os.rename(spoiled.parent, env.jobs_dir / ".trash-gone")
    env.run("stats")
    assert groups["old_done"][0] not in json.loads(index.read_text())["ids"]



def test_a_retried_job_is_read_again_though_indexed_as_finished(env, images, consumers):
    index = env.jobs_dir / ".stats-index.json"
    job_id = env.submit(images("fail"))
    consumer = consumers(env)
    env.wait(job_id)
    consumer.stop()
    assert env.run("stats")[1]["jobs"]["error"] == 1
    assert job_id in json.loads(index.read_text())["ids"]
    env.run("retry", "--job-id", job_id)
    jobs = env.run("stats")[1]["jobs"]
    assert (jobs["error"], jobs["queued"]) == (0, 1)
    assert job_id not in json.loads(index.read_text())["ids"]


def test_prometheus_format_parses_with_prometheus_client(env):
    make_known_jobs(env.jobs_dir)
    corrupt_jobs(env.jobs_dir)
    code, text, _ = env.run("stats", "--format", "prometheus", check_json=False)
    assert code == 0
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert all(name.startswith("astro_jobs_") for name in families)

    def value(family, **labels):
        return next(s.value for f in families.values() for s in f.samples
                    if s.name == family and s.labels == labels)

    assert value("astro_jobs_jobs", state="queued") == 2
    assert value("astro_jobs_jobs", state="corrupt") == 3
    assert 99 <= value("astro_jobs_oldest_queued_seconds") < 110
    assert families["astro_jobs_run_seconds"].type == "summary"
    assert value("astro_jobs_run_seconds", window="5m", quantile="0.5") == 4.0
    assert value("astro_jobs_run_seconds", window="5m", quantile="0.95") == 10.0
    assert value("astro_jobs_run_seconds_count", window="5m") == 12
    assert value("astro_jobs_run_seconds_sum", window="60m") == 141.0
    assert value("astro_jobs_finished_jobs", window="5m", state="error") == 2
    assert value("astro_jobs_error_ratio", window="5m") == round(2 / 13, 4)
    assert value("astro_jobs_consumers_alive") == 0


def test_the_python_api_returns_the_same_figures(env):
    make_known_jobs(env.jobs_dir)
    figures = json.loads(python_snippet(
        "import json, astro_jobs; print(json.dumps(astro_jobs.stats()))", env))
    assert "ok" not in figures
    assert figures["jobs"] == env.run("stats")[1]["jobs"]


def test_done_jobs_are_split_into_solved_and_unsolved(env):
    """Counted from status.json's ``solved``; a job done before the field existed is
    judged by its result.json once, and an index of the older version is rebuilt."""
    now = time.time()
    for number, solved in enumerate([True, True, False, False, False]):
        write_job(env.jobs_dir, job_status(hex_id(number + 1), "done", now - 100, now - 70,
                                           now - 60, solved=solved))
    old = job_status(hex_id(9), "done", now - 9000, now - 8000, now - 7500)
    del old["solved"]
    folder = write_job(env.jobs_dir, old)
    (folder / "output").mkdir()
    (folder / "output" / "result.json").write_text('{"solved": false}')
    stale = {"version": 3, "reopened_offset": 0, "ids": [hex_id(1)], "states": ["done"],
             "started": [now - 70], "finished": [now - 60]}
    (env.jobs_dir / ".stats-index.json").write_text(json.dumps(stale))

    out = env.run("stats")[1]
    assert out["jobs"]["done"] == 6
    assert out["done"] == {"solved": 2, "unsolved": 4}
    five = out["recent"]["5m"]
    assert (five["done"], five["solved"], five["unsolved"]) == (5, 2, 3)
    index = json.loads((env.jobs_dir / ".stats-index.json").read_text())
    assert index["version"] == 4 and len(index["solved"]) == 6
    # Read again from the index: the same split.
    assert env.run("stats")[1]["done"] == {"solved": 2, "unsolved": 4}

    text = env.run("stats", "--format", "prometheus", check_json=False)[1]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("astro_jobs_done_jobs", (("outcome", "unsolved"),))] == 4
    assert samples[("astro_jobs_done_jobs", (("outcome", "solved"),))] == 2
    assert samples[("astro_jobs_finished_done_jobs",
                    (("outcome", "unsolved"), ("window", "5m")))] == 3
