#!/usr/bin/env python3
"""Chaos: submit N jobs, SIGKILL consumers at random moments M times while
restarting them, then check that no job was lost.

    python bench/chaos.py [--jobs 200] [--kills 12] [--consumers 2] [--seed 1]

Jobs are submitted first, then consumers start and are killed while they
drain the queue, so every kill lands on running jobs. Every job must end exactly once in a terminal state, with an intact result
that belongs to the attempt its status names: result.json's extractor pid
equals ``worker.pgid`` (the extractor leads its own process group), and no
outcome was written twice. Uses the stand-in extractor of tests/ (each job
sleeps 0.2-0.8 s), real consumers started with the Procfile's command and
a throwaway JOBS_DIR. Exit status 0 only if nothing was lost.
"""
import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support import Consumer, Env, make_png  # noqa: E402

TERMINAL = {"done", "error", "cancelled"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=300, help="seconds to drain")
    return parser.parse_args()


def check_job(folder):
    """(state, problem or None, attempts) of one finished job folder."""
    status = json.loads((folder / "status.json").read_text())
    if status["state"] not in TERMINAL:
        return status["state"], "not terminal", status["attempts"]
    log = (folder / "task.log").read_text(errors="replace")
    if "outcome discarded" in log:
        return status["state"], "a second outcome was attempted", status["attempts"]
    if status["state"] != "done":
        return status["state"], f"ended {status['state']}: {status['error']}", status["attempts"]
    try:
        result = json.loads((folder / "output" / "result.json").read_text())
    except (OSError, ValueError) as exc:
        return "done", f"result unreadable: {exc}", status["attempts"]
    if result.get("job_env") != folder.name:
        return "done", "result of another job", status["attempts"]
    if result.get("pid") != status["worker"].get("pgid"):
        return "done", "result written by another attempt", status["attempts"]
    return "done", None, status["attempts"]


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="astro-jobs-chaos-") as tmp:
        tmp = Path(tmp)
        env = Env(os.environ, JOBS_DIR=str(tmp / "jobs"),
                  ASTRO_EXTRACT_BIN=str(REPO / "tests" / "stand_in_extractor.py"),
                  ASTRO_JOBS_HEARTBEAT="0.5", ASTRO_JOBS_MAX_ATTEMPTS="50")
        (tmp / "uploads").mkdir()
        images = [make_png(tmp / "uploads" / f"slow{n}.png") for n in range(2, 9)]
        os.environ.update(env)
        import astro_jobs
        started = time.monotonic()
        ids = [astro_jobs.submit(rng.choice(images)) for _ in range(args.jobs)]
        print(f"submitted {len(ids)} jobs in {time.monotonic() - started:.1f} s; starting "
              f"{args.consumers} consumers x {args.workers} workers", flush=True)
        started = time.monotonic()
        consumers = [Consumer(env, args.workers) for _ in range(args.consumers)]
        for kill in range(args.kills):
            time.sleep(rng.uniform(0.5, 2.0))
            victim = rng.randrange(len(consumers))
            consumers[victim].kill()
            consumers[victim] = Consumer(env, args.workers)
            print(f"kill {kill + 1}/{args.kills}: consumer {victim} killed and restarted",
                  flush=True)
        deadline = time.monotonic() + args.deadline
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                state = json.loads((env.jobs_dir / job_id / "status.json").read_text())["state"]
                if state in TERMINAL:
                    pending.discard(job_id)
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        for consumer in consumers:
            consumer.stop(signal.SIGINT)
        states, problems, attempts = {}, {}, []
        for job_id in ids:
            state, problem, tries = check_job(env.jobs_dir / job_id)
            states[state] = states.get(state, 0) + 1
            attempts.append(tries)
            if problem:
                problems[job_id] = problem
        lost = sum(n for s, n in states.items() if s not in TERMINAL) + len(problems)
        print(f"jobs: {len(ids)}, kills: {args.kills}, states: {states}, "
              f"attempts re-run after a kill: {sum(attempts) - len(attempts)}, "
              f"lost: {lost}, drain time: {elapsed:.1f} s")
        for job_id, problem in list(problems.items())[:20]:
            print(f"  {job_id}: {problem}")
        return 0 if lost == 0 and states.get("done") == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
