#!/usr/bin/env python3
"""`astro-jobs stats` on many job folders: cold (no index), warm (index), and
`list --limit 1` (which reads every folder) side by side.

    python bench/stats.py [--jobs 100000] [--rounds 5] [--keep DIR]

Creates the synthetic job folders (harness/support.py: a week of jobs, mostly
finished, each folder a realistic status.json) in a temporary JOBS_DIR, then
times each command as a fresh process, the way cron or a backend runs it.
Medians of interleaved rounds (the machine is shared and noisy). Target: a
warm `stats` within 2 s for 100,000 jobs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.support import make_synthetic_jobs, scrubbed_env  # noqa: E402

from targets import Verdicts  # noqa: E402

TARGET_S, TARGET_JOBS = 2.0, 100_000


def timed(args, env):
    start = time.perf_counter()
    proc = subprocess.run(["astro-jobs", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stdout} {proc.stderr}")
    return elapsed, proc.stdout


def cold(env, index):
    """`stats` with no index: every folder read, the index written."""
    index.unlink(missing_ok=True)
    return timed(["stats"], env)


def measure(env, index, rounds):
    times = {"stats, no index (cold)": [], "stats, index (warm)": [],
             "stats --format prometheus (warm)": [], "list --limit 1": []}
    for _ in range(rounds):
        times["stats, no index (cold)"].append(cold(env, index)[0])
        times["stats, index (warm)"].append(timed(["stats"], env)[0])
        times["stats --format prometheus (warm)"].append(
            timed(["stats", "--format", "prometheus"], env)[0])
        times["list --limit 1"].append(timed(["list", "--limit", "1"], env)[0])
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", help="reuse (or leave) the job folders in this folder")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="astro-stats-"))
    jobs_dir = base / "jobs"
    env = scrubbed_env(jobs_dir)
    if not jobs_dir.exists():
        started = time.perf_counter()
        counts = make_synthetic_jobs(jobs_dir, args.jobs)
        print(f"made {args.jobs} job folders in {time.perf_counter() - started:.1f} s: "
              f"{counts}")
    index = jobs_dir / ".stats-index.json"
    figures = measure(env, index, args.rounds)
    out = json.loads(timed(["stats"], env)[1])
    print(f"astro-jobs stats benchmark: {out['total']} jobs "
          f"({out['jobs']}), {os.cpu_count()} cores, medians of {args.rounds} rounds")
    print(f"index: {index.stat().st_size / 1e6:.1f} MB")
    baseline = figures["list --limit 1"]
    for name, seconds in figures.items():
        print(f"  {name:34s} {seconds:7.3f} s   {seconds / baseline:5.2f} x list")
    warm = figures["stats, index (warm)"]
    print(f"cold / warm = {figures['stats, no index (cold)'] / warm:.1f}")
    verdicts = Verdicts("bench/stats.py")
    if out["total"] >= TARGET_JOBS:
        verdicts.at_most(f"warm stats, {out['total']} jobs", warm, TARGET_S, unit="s")
    else:  # a smaller run says nothing about the target's size
        verdicts.not_measured(f"warm stats, {TARGET_JOBS} jobs", f"<= {TARGET_S} s",
                              f"only {out['total']} jobs here: {warm:.3f} s")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(base)], check=False)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
