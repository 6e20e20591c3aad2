#!/usr/bin/env python3
"""Pickup after idle, and idle CPU, for the Procfile's polling and others.

    python bench/pickup.py [--idle 20] [--pickups 12] [--gap 2] [--no-tradeoff]

A real consumer (the Procfile's command, or the same with other polling
flags) is left idle, its CPU read from /proc; then jobs of the stand-in
extractor are submitted one at a time after random gaps, each timed from
submit returning to `wait` returning. Targets for the Procfile's line:
pickup median <= 250 ms, idle CPU <= 2% of a core.
"""
import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.support import (  # noqa: E402
    Consumer,
    cpu_seconds,
    make_png,
    procfile_worker_command,
    python_snippet,
    scrubbed_env,
)

from targets import Verdicts  # noqa: E402

TARGET_PICKUP_S = 0.25
TARGET_IDLE_CPU = 0.02
POLLING = [
    # name, (delay, max_delay, backoff) or None for the Procfile's own line
    ("Procfile (fixed 0.1 s)", None),
    ("fixed 0.05 s", (0.05, 0.05, 1)),
    ("fixed 0.25 s", (0.25, 0.25, 1)),
    ("fixed 1 s", (1, 1, 1)),
    ("huey default (0.1 s x1.15, max 10 s)", (0.1, 10, 1.15)),
]

# submit returns -> wait returns, one job at a time after random gaps (the
# submit lands at a random phase of the polling); wait polls every 2 ms so
# the figure is the consumer's, not this loop's.
CHILD = """
import json, random, sys, time
import astro_jobs
image, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = []
for index in range(count):
    if index:
        time.sleep(gap * random.uniform(0.75, 1.25))
    job_id = astro_jobs.submit(image)
    start = time.perf_counter()
    status = astro_jobs.api.wait(job_id, 60, poll=0.002)
    out.append({"latency": time.perf_counter() - start, "state": status["state"]})
print(json.dumps(out))
"""


def with_polling(command, delay, max_delay, backoff):
    """The Procfile's command with other polling flags."""
    command = re.sub(r"\s--(delay|max-delay|backoff)\s+\S+", "", command)
    return f"{command} --delay {delay} --max-delay {max_delay} --backoff {backoff}"


def measure(work, tag, command, idle, pickups, gap):
    """(idle CPU share of a core, pickup latencies) of one consumer."""
    env = scrubbed_env(work / f"jobs-{tag}")
    image = make_png(work / "ok.png")
    consumer = Consumer(env, 2, work / f"consumer-{tag}.log", command=command)
    try:
        time.sleep(1.0)  # start-up work (the first sweep) is not idling
        before, start = cpu_seconds(consumer.pid), time.monotonic()
        time.sleep(idle)
        idle_cpu = (cpu_seconds(consumer.pid) - before) / (time.monotonic() - start)
        code = f"import sys; sys.argv[1:] = [{str(image)!r}, '{pickups}', '{gap}']\n" + CHILD
        runs = json.loads(python_snippet(code, env).splitlines()[-1])
    finally:
        consumer.stop()
    if any(run["state"] != "done" for run in runs):
        raise SystemExit(f"pickup jobs did not finish: {runs}")
    return idle_cpu, [run["latency"] for run in runs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds (Procfile)")
    parser.add_argument("--pickups", type=int, default=12)
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between pickups")
    parser.add_argument("--other-idle", type=float, default=15.0)
    parser.add_argument("--other-pickups", type=int, default=5)
    parser.add_argument("--no-tradeoff", action="store_true",
                        help="measure the Procfile's polling only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-pickup-"))
    base = procfile_worker_command()
    print(f"Procfile: {base}")
    print(f"  {'polling':38s} {'idle CPU':>9s} {'1st':>9s} {'median':>9s} {'max':>9s}  n")
    verdicts = Verdicts("bench/pickup.py")
    for index, (name, flags) in enumerate(POLLING[:1] if args.no_tradeoff else POLLING):
        main_line = flags is None
        cpu, lat = measure(work, f"p{index}", base if main_line else with_polling(base, *flags),
                           args.idle if main_line else args.other_idle,
                           args.pickups if main_line else args.other_pickups, args.gap)
        med = statistics.median(lat)
        print(f"  {name:38s} {cpu * 100:8.2f}% {lat[0] * 1000:7.0f}ms {med * 1000:7.0f}ms "
              f"{max(lat) * 1000:7.0f}ms  {len(lat)}", flush=True)
        if main_line:
            verdicts.at_most("pickup median (Procfile)", med * 1000, TARGET_PICKUP_S * 1000,
                             unit="ms", digits=0)
            verdicts.at_most("idle CPU (Procfile)", cpu * 100, TARGET_IDLE_CPU * 100,
                             unit="% of a core", digits=2)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
