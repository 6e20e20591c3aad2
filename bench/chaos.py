#!/usr/bin/env python3
"""Chaos: SIGKILL consumers and extractors at the worst moments; lose nothing.

    python bench/chaos.py [--jobs 300] [--kills 100] [--queue sqlite|redis] [--seed 1]

Submits the jobs, starts consumers (the Procfile's command) and kills,
with SIGKILL, one process at a time, restarting each consumer it kills.
Each kill is one of:

    consumer    a random consumer, at a random moment
    extractor   a random running extractor (its job ends in ``error``)
    claim       the consumer that has just claimed a job, before its
                extractor started
    writing     an extractor, or its consumer, while it writes result.json
    recovery    the consumer that is taking back a dead consumer's jobs,
                the moment its first requeue shows on disk

Then checks every job: terminal (none lost); a ``done`` job's result was
written by the run its status names (job, attempt, consumer instance: no
foreign outcome); no job's extractor ran more often than its attempt count
(a ledger the stand-in extractor keeps, one line per run). Prints the
figures and their targets (bench/targets.py); exit status 0 only if all
three are 0.
"""
import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(REPO))
from harness.support import TERMINAL, Consumer, RedisServer, make_png, scrubbed_env, submit_many  # noqa: E402

from targets import Verdicts  # noqa: E402

KINDS = ("consumer", "extractor", "claim", "writing", "recovery")
# Errors a job may end in here: its extractor was one we killed, or its
# consumers were killed more often than its attempt limit allows.
EXPECTED_ERRORS = ("killed by signal SIGKILL", "giving up")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--queue", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=300, help="seconds to drain")
    return parser.parse_args()


class Cluster:
    """The consumers of the run, and what can be observed of their jobs."""

    def __init__(self, env, count, workers, ids):
        self.env, self.workers = env, workers
        self.unfinished = set(ids)  # polled: a finished job never changes again
        self.consumers = [Consumer(env, workers) for _ in range(count)]

    def statuses(self, state=None):
        """Status of every unfinished job (optionally only those in ``state``)."""
        found = []
        for job_id in list(self.unfinished):
            status = json.loads((self.env.jobs_dir / job_id / "status.json").read_text())
            if status["state"] in TERMINAL:
                self.unfinished.discard(job_id)
            elif state is None or status["state"] == state:
                found.append(status)
        return found

    def replace(self, pid, landed=lambda: True):
        """SIGKILL the consumer with ``pid``, start another in its place; None if
        no such consumer, else ``landed()``, asked between the kill and the restart."""
        for n, consumer in enumerate(self.consumers):
            if consumer.pid == pid:
                consumer.kill()
                inside = landed()
                self.consumers[n] = Consumer(self.env, self.workers)
                return inside
        return None

    def wait_for(self, predicate, timeout=3.0):
        """The first processing status matching ``predicate``, polled, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for status in self.statuses("processing"):
                if predicate(status):
                    return status
            # Polling hundreds of files takes CPU from the consumers.
            time.sleep(0.03)
        return None


def _extractor_of(status):
    return (status.get("worker") or {}).get("pgid")


# Each killer returns (SIGKILLs sent, how many landed inside the window aimed at).

def kill_consumer(cluster, rng):
    return 1, 1 if cluster.replace(rng.choice(cluster.consumers).pid) else 0


def _status(cluster, job_id):
    return json.loads((cluster.env.jobs_dir / job_id / "status.json").read_text())


def _no_result(cluster, job_id):
    return not (cluster.env.jobs_dir / job_id / "output" / "result.json").exists()


def kill_extractor(cluster, rng, predicate=lambda s: True):
    status = cluster.wait_for(lambda s: _extractor_of(s) and predicate(s))
    if status is None:
        return 0, 0
    try:
        os.kill(_extractor_of(status), signal.SIGKILL)
    except ProcessLookupError:
        return 0, 0
    return 1, int(_no_result(cluster, status["job_id"]))


def kill_at_claim(cluster, rng):
    """Landed if the run never started its extractor."""
    status = cluster.wait_for(lambda s: not _extractor_of(s))
    if status is None:
        return 0, 0
    inside = cluster.replace(status["worker"]["pid"], lambda: not _extractor_of(
        _status(cluster, status["job_id"])))
    return (0, 0) if inside is None else (1, int(inside))


def kill_while_writing(cluster, rng):
    """The extractor or its consumer; landed if result.json was not complete."""
    def writing(status):
        # The stage file itself: status.json shows it up to a poll late.
        stage = cluster.env.jobs_dir / status["job_id"] / "stage"
        try:
            return stage.read_text() == "writing"
        except OSError:
            return False

    if rng.random() < 0.5:
        return kill_extractor(cluster, rng, writing)
    status = cluster.wait_for(writing)
    if status is None:
        return 0, 0
    inside = cluster.replace(status["worker"]["pid"],
                             lambda: _no_result(cluster, status["job_id"]))
    return (0, 0) if inside is None else (1, int(inside))


def kill_during_recovery(cluster, rng):
    """Kill a consumer with running jobs, then, the moment one of them is
    requeued, every consumer (whichever is sweeping); landed if the sweep that
    requeued it had not finished (its log has no summary line yet)."""
    victim = cluster.wait_for(lambda s: _extractor_of(s))
    if victim is None or cluster.replace(victim["worker"]["pid"]) is None:
        return 0, 0
    deadline = time.monotonic() + 5
    while _status(cluster, victim["job_id"])["attempts"] <= victim["attempts"]:
        if time.monotonic() > deadline:
            return 1, 0
        time.sleep(0.002)
    for consumer in cluster.consumers:
        consumer.send(signal.SIGKILL)
    mark = f"job {victim['job_id']}: its worker died"
    inside = 0
    for n, consumer in enumerate(cluster.consumers):
        consumer.kill()
        log = consumer.output()
        inside |= mark in log and "sweep: {" not in log.split(mark, 1)[1]
        cluster.consumers[n] = Consumer(cluster.env, cluster.workers)
    return 1 + len(cluster.consumers), int(inside)


KILLERS = {"consumer": kill_consumer, "extractor": kill_extractor, "claim": kill_at_claim,
           "writing": kill_while_writing, "recovery": kill_during_recovery}


def check_job(jobs_dir, ledger, job_id):
    """(state, problem kind or None, detail) of one job after the run."""
    folder = jobs_dir / job_id
    status = json.loads((folder / "status.json").read_text())
    state, attempts = status["state"], status["attempts"]
    runs = (ledger / job_id).read_text().split() if (ledger / job_id).exists() else []
    numbers = [int(run.split(".")[1]) for run in runs]
    if len(runs) > attempts or len(set(numbers)) != len(numbers) \
            or any(n > attempts for n in numbers):
        return state, "over-run", f"{len(runs)} runs {numbers}, attempts {attempts}"
    if state not in TERMINAL:
        return state, "lost", f"still {state}"
    if state == "error":
        ok = any(text in status["error"] for text in EXPECTED_ERRORS)
        return state, None if ok else "lost", status["error"]
    if state != "done":
        return state, "lost", state
    try:
        result = json.loads((folder / "output" / "result.json").read_text())
    except (OSError, ValueError) as exc:
        return state, "lost", f"result unreadable: {exc}"
    owner = f"{job_id}.{attempts}.{status['worker']['instance']}"
    if result.get("run") != owner or result.get("pid") != status["worker"].get("pgid"):
        return state, "foreign", f"result of run {result.get('run')}, status names {owner}"
    return state, None, ""


def drain(cluster, seconds):
    deadline = time.monotonic() + seconds
    while cluster.statuses() and time.monotonic() < deadline:
        time.sleep(0.2)


def report(env, ledger, ids, kills, landed, elapsed):
    states, problems, details = Counter(), Counter(), []
    attempts = 0
    for job_id in ids:
        state, problem, detail = check_job(env.jobs_dir, ledger, job_id)
        states[state] += 1
        attempts += json.loads((env.jobs_dir / job_id / "status.json").read_text())["attempts"]
        if problem:
            problems[problem] += 1
            details.append(f"  {job_id}: {problem}: {detail}")
    refused = sum("outcome discarded" in (env.jobs_dir / j / "task.log").read_text(
        errors="replace") for j in ids)
    print(f"queue: {env.get('ASTRO_JOBS_QUEUE_URL') and 'redis' or 'sqlite'}, "
          f"jobs: {len(ids)}, kills: {sum(kills.values())} {dict(kills)}")
    print("kills that landed inside the window aimed at: " + ", ".join(
        f"{kind} {landed[kind]}/{landed[kind + ' aimed']}" for kind in KINDS[2:]))
    print(f"states: {dict(states)}, re-runs after a kill: {attempts - len(ids)}, "
          f"outcomes refused to a run that lost its job: {refused}")
    print(f"drain time: {elapsed:.1f} s")
    for detail in details[:20]:
        print(detail)
    verdicts = Verdicts("bench/chaos.py")
    for problem in ("lost", "foreign", "over-run"):
        verdicts.equal(f"{problem} jobs", problems[problem], 0)
    return verdicts.finish()


def run(args, env, ledger, rng):
    (env.jobs_dir.parent / "uploads").mkdir()
    # Jobs of 0.8-2.4 s: long enough for the kills (a consumer restarts in
    # about a second) to land while jobs are still running.
    images = [make_png(env.jobs_dir.parent / "uploads" / f"chaos{n}.png")
              for n in range(8, 25, 2)]
    started = time.monotonic()
    counts = [0] * len(images)
    for _ in range(args.jobs):
        counts[rng.randrange(len(images))] += 1
    ids = [job_id for image, count in zip(images, counts) if count
           for job_id in submit_many(env, image, count)]
    rng.shuffle(ids)
    print(f"submitted {len(ids)} jobs in {time.monotonic() - started:.1f} s; "
          f"{args.consumers} consumers x {args.workers} workers, {args.kills} kills",
          flush=True)
    started = time.monotonic()
    cluster = Cluster(env, args.consumers, args.workers, ids)
    kills, landed = Counter(), Counter()
    try:
        # Until every job has finished, not only until none is queued: a kill
        # aimed at a running job still tests recovery.
        while sum(kills.values()) < args.kills and cluster.statuses():
            time.sleep(rng.uniform(0.05, 0.3))
            room = args.kills - sum(kills.values()) > args.consumers
            kind = rng.choice(KINDS if room else KINDS[:-1])
            sent, inside = KILLERS[kind](cluster, rng)
            kills[kind] += sent
            landed[kind] += inside
            # A recovery kill is several: the victim, then all aimed at the sweep.
            landed[kind + " aimed"] += sent if kind != "recovery" else int(sent > 1)
            if sent:
                print(f"{sum(kills.values())} kills, {len(cluster.unfinished)} jobs "
                      f"unfinished, {time.monotonic() - started:.0f} s", flush=True)
        drain(cluster, args.deadline)
        elapsed = time.monotonic() - started
    finally:
        for consumer in cluster.consumers:
            consumer.stop(signal.SIGINT)
    return report(env, ledger, ids, kills, landed, elapsed)


def main():
    args = parse_args()
    # Stopped early: still stop the consumers (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="astro-jobs-chaos-") as tmp:
        tmp = Path(tmp)
        ledger = tmp / "ledger"
        ledger.mkdir()
        env = scrubbed_env(tmp / "jobs", ASTRO_JOBS_HEARTBEAT="0.5",
                           ASTRO_JOBS_MAX_ATTEMPTS="50", STAND_IN_LEDGER=str(ledger))
        server = None
        if args.queue == "redis":
            (tmp / "redis").mkdir()
            server = RedisServer(tmp / "redis")
            env["ASTRO_JOBS_QUEUE_URL"] = server.url
        try:
            return run(args, env, ledger, rng)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    sys.exit(main())
