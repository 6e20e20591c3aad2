#!/usr/bin/env python3
"""Drain: a queue of instant jobs on 2 workers, against the extractor itself
run back to back, side by side.

    python bench/drain.py [--jobs 150] [--extractor-runs 25]

Jobs/s of a real consumer over `workers / mean extractor time` measured in
the same run (before and after the drain). Target: ratio >= 0.8, and never
more jobs between started_at and finished_at at once than workers.
"""
import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from astro_jobs.timefmt import parse_iso as epoch  # noqa: E402
from harness.support import (  # noqa: E402
    Consumer,
    cpu_seconds,
    make_png,
    max_overlap,
    python_snippet,
    scrubbed_env,
    submit_many,
)

from targets import Verdicts  # noqa: E402

TARGET = 0.8
WORKERS = 2


def back_to_back(command, image, folder, count, env):
    """Wall times of ``count`` extractor runs, and the mean CPU of one."""
    folder.mkdir(parents=True, exist_ok=True)
    times = []
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run(command + ["--image", str(image), "--output",
                                  str(folder / "result.json"), "--timeout", "600"],
                       cwd=folder, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return times, (usage.ru_utime + usage.ru_stime - cpu_before) / count


def side_by_side(command, image, folder, count, env):
    """Jobs/s of WORKERS threads each running the extractor back to back:
    what this machine gives right now when that many share its cores."""
    threads = [threading.Thread(target=back_to_back,
                                args=(command, image, folder / f"w{i}", count, env))
               for i in range(WORKERS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return WORKERS * count / (time.perf_counter() - start)


def where_time_goes(env, statuses):
    """Medians: the extractor as the runner timed it, the rest of claim ->
    finish, and finish -> next claim on the same worker thread."""
    in_runner, overhead, gaps, by_thread = [], [], [], {}
    for status in statuses:
        log = (env.jobs_dir / status["job_id"] / "task.log").read_text()
        found = re.search(r"extractor exited with code 0 after ([0-9.]+) s", log)
        if found and status["finished_at"]:
            start, end = epoch(status["started_at"]), epoch(status["finished_at"])
            in_runner.append(float(found.group(1)))
            overhead.append(end - start - in_runner[-1])
            by_thread.setdefault(status["worker"].get("thread"), []).append((start, end))
    for runs in by_thread.values():
        runs.sort()
        gaps += [b[0] - a[1] for a, b in zip(runs, runs[1:])]
    return [statistics.median(values) * 1000 for values in (in_runner, overhead, gaps)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--extractor-runs", type=int, default=25,
                        help="back-to-back extractor runs before and after the drain")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-drain-"))
    env = scrubbed_env(work / "jobs")
    image = make_png(work / "ok.png")
    ids = submit_many(env, image, args.jobs)
    extractor = json.loads(python_snippet("import json\nfrom astro_jobs.runner import command\n"
                                          "print(json.dumps(command.command()))", env))
    runs = args.extractor_runs
    before, cpu1 = back_to_back(extractor, image, work / "runs", runs, env)
    consumer = Consumer(env, WORKERS, work / "consumer.log")
    consumer_cpu = cpu_seconds(consumer.pid)
    try:
        statuses = env.wait_all_terminal(ids, timeout=600, interval=0.5)
        consumer_cpu = cpu_seconds(consumer.pid) - consumer_cpu
    finally:
        consumer.stop()
    after, cpu2 = back_to_back(extractor, image, work / "runs", runs, env)
    parallel = side_by_side(extractor, image, work / "runs", runs, env)
    return report(args.jobs, statuses, before + after, (cpu1 + cpu2) / 2, consumer_cpu,
                  parallel, env)


def report(count, statuses, extractor_times, extractor_cpu, consumer_cpu, parallel, env):
    states = Counter(s["state"] for s in statuses)
    spans = [(epoch(s["started_at"]), epoch(s["finished_at"])) for s in statuses
             if s["started_at"] and s["finished_at"]]
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    rate, mean = len(spans) / span, statistics.mean(extractor_times)
    ratio, peak = rate / (WORKERS / mean), max_overlap(spans)
    print(f"Drain: {count} queued instant jobs on {WORKERS} workers; states {dict(states)}")
    print(f"  extractor back to back: mean {mean * 1000:.1f} ms over {len(extractor_times)} "
          f"runs, CPU {extractor_cpu * 1000:.1f} ms a run; consumer CPU "
          f"{consumer_cpu / count * 1000:.1f} ms a job")
    print("  per job (medians): extractor under the consumer {:.1f} ms, rest of claim -> "
          "finish {:.1f} ms, finish -> next claim {:.1f} ms".format(
              *where_time_goes(env, statuses)))
    print(f"  drain {rate:.1f} jobs/s, floor {WORKERS} / mean = {WORKERS / mean:.1f} jobs/s, "
          f"{WORKERS} bare extractors side by side {parallel:.1f} jobs/s, drain / that = "
          f"{rate / parallel:.2f}")
    verdicts = Verdicts("bench/drain.py")
    verdicts.at_least("drain / floor", ratio, TARGET, digits=2)
    verdicts.equal("jobs not done", count - states.get("done", 0), 0)
    verdicts.at_most("most jobs running at once", peak, WORKERS)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
