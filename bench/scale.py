#!/usr/bin/env python3
"""Jobs per second through Redis with one node, then two, side by side.

    python bench/scale.py [--jobs 40] [--job-tenths 5] [--workers 2]

Starts its own redis-server on 127.0.0.1 (a free port, no persistence) and
real consumers with the Procfile's command, each a separate process with
its own ASTRO_JOBS_NODE, all over one JOBS_DIR. Each job runs the tests'
stand-in extractor, which sleeps a fixed time and writes a result: the work
is wait-bound, as a node's real work is bound by its own cores, so adding a
node adds capacity. On a machine with few cores every "node" here shares
them; the CPU figure printed shows how far that is from being the limit.

Throughput = jobs / (last finished_at - first created_at): submits are made
while the consumers already wait on the queue (BZPOPMIN), so it includes
pickup, claim, the extractor's process start and the status writes.
Target: two nodes / one node >= 1.7 (ideal 2; the fixed cost per job weighs
more the shorter the job), every job done.
"""
import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from astro_jobs.timefmt import parse_iso as epoch  # noqa: E402
from harness.support import (  # noqa: E402
    Consumer,
    Env,
    RedisServer,
    make_png,
    redis_command,
    scrubbed_env,
    submit_many,
    wait_until,
)

from targets import Verdicts  # noqa: E402

TARGET_SPEEDUP = 1.7


def run_scenario(redis, root, nodes, workers, jobs, tenths):
    """Submit ``jobs`` jobs to ``nodes`` consumers; return the measurements."""
    redis_command(redis.port, "FLUSHALL")
    env = scrubbed_env(root / f"jobs-{nodes}-nodes", ASTRO_JOBS_QUEUE_URL=redis.url)
    image = make_png(root / f"slow{tenths}.png")
    cpu_before = os.times()
    consumers = [Consumer(Env(env, ASTRO_JOBS_NODE=f"node-{chr(97 + i)}"), workers,
                          root / f"consumer-{nodes}-{i}.log") for i in range(nodes)]
    try:
        # Measure from idle: every worker thread waiting inside Redis.
        if not wait_until(lambda: redis.blocked_pops() >= nodes * workers, timeout=30):
            raise SystemExit("consumers did not become idle")
        final = env.wait_all_terminal(submit_many(env, image, jobs), 60 + jobs * tenths / 10)
    finally:
        for consumer in consumers:
            consumer.stop()
    cpu_after = os.times()
    states = Counter(s["state"] for s in final)
    window = max(epoch(s["finished_at"]) for s in final) - min(epoch(s["created_at"])
                                                              for s in final)
    cpu = (cpu_after.children_user + cpu_after.children_system
           - cpu_before.children_user - cpu_before.children_system)
    return {
        "nodes": nodes,
        "workers": nodes * workers,
        "seconds": window,
        "jobs_per_s": jobs / window,
        "ideal_per_s": nodes * workers / (tenths / 10),
        "cpu_s_per_job": cpu / jobs,
        "per_node": dict(sorted(Counter((s["worker"] or {}).get("node") for s in final)
                                .items())),
        "not_done": jobs - states.get("done", 0),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs per scenario (40)")
    parser.add_argument("--job-tenths", type=int, default=5,
                        help="each job's duration in tenths of a second (5 = 0.5 s)")
    parser.add_argument("--workers", type=int, default=2, help="workers per node (2)")
    args = parser.parse_args()

    cores = os.cpu_count()
    print(f"astro-jobs scale benchmark: Redis queue, {args.jobs} jobs of "
          f"{args.job_tenths / 10:g} s (stand-in extractor, sleep-bound), "
          f"{args.workers} workers per node")
    print(f"machine: {cores} cores; both 'nodes' run on this one machine and share them")
    root = Path(tempfile.mkdtemp(prefix="astro-jobs-scale-"))
    redis = RedisServer(root)
    try:
        results = [run_scenario(redis, root, nodes, args.workers, args.jobs, args.job_tenths)
                   for nodes in (1, 2)]
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"{'nodes':>5} {'workers':>7} {'seconds':>8} {'jobs/s':>7} {'ideal':>6} "
          f"{'CPU s/job':>9}  jobs per node")
    for r in results:
        print(f"{r['nodes']:>5} {r['workers']:>7} {r['seconds']:>8.2f} {r['jobs_per_s']:>7.2f} "
              f"{r['ideal_per_s']:>6.1f} {r['cpu_s_per_job']:>9.3f}  "
              + ", ".join(f"{k}: {v}" for k, v in r["per_node"].items()))
    one, two = results
    busy = two["cpu_s_per_job"] * two["jobs_per_s"] / (cores or 1)
    print(f"the two-node run kept the {cores} cores about {busy:.0%} busy")
    verdicts = Verdicts("bench/scale.py")
    verdicts.at_least("two nodes / one node (ideal 2.00)",
                      two["jobs_per_s"] / one["jobs_per_s"], TARGET_SPEEDUP, digits=2)
    verdicts.equal("jobs not done", one["not_done"] + two["not_done"], 0)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
