#!/usr/bin/env python3
"""Benchmarks of the edges: CLI latency, in-process submit, pickup, drain.

One command, every ratio measured side by side in the same run:

    python bench/edges.py                 # everything (about 5 minutes)
    python bench/edges.py --quick         # fewer rounds, shorter idles
    python bench/edges.py --only cli,submit --rounds 50

Each figure is printed with its baseline, the ratio and PASS/FAIL against the
target of issue 5. The machine these run on is shared and noisy: figures are
medians of interleaved runs, never single timings, and none of this is a test.

Sections:
  cli      `status`, `result` vs `python -c "import click"`; `submit` vs
           `python -c "import click, huey"`; interleaved, in random order.
  submit   astro_jobs.submit() in one process, fresh JOBS_DIR, per call.
  pickup   a real consumer (the Procfile's command) left idle, then jobs
           submitted one at a time: submit returning -> `wait` returning;
           its CPU while idle from /proc/<pid>/stat. Repeated for a few
           polling settings (the trade-off table).
  drain    150 queued instant jobs on 2 workers vs the extractor run back to
           back; the statuses' intervals prove at most 2 ran at once.
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support import STAND_IN, make_png, max_overlap, procfile_worker_command  # noqa: E402

PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_CLI = 1.3
TARGET_SUBMIT_MS = 5.0
TARGET_PICKUP_S = 0.25
TARGET_IDLE_CPU = 0.02
TARGET_DRAIN = 0.8

RESULTS = []  # (name, ok) of every target, for the summary


# -- helpers ------------------------------------------------------------------

PYCACHE = None  # set by main(): a scratch bytecode cache shared by every run


def bench_env(jobs_dir, **extra):
    """The environment of every command: a fresh JOBS_DIR, the stand-in extractor.

    Bytecode is cached (in a scratch folder, not the checkout), as on any
    installed system: with PYTHONDONTWRITEBYTECODE an editable install would
    recompile astro_jobs on every run while click and huey load theirs.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ASTRO_JOBS_")
           and k not in ("JOBS_DIR", "ASTRO_EXTRACT_BIN", "PYTHONDONTWRITEBYTECODE")}
    env.update(JOBS_DIR=str(jobs_dir), ASTRO_EXTRACT_BIN=str(STAND_IN), **extra)
    if PYCACHE:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def cli_command():
    """The console script next to this interpreter (what a backend runs).

    Not a version manager's shim (pyenv's is a bash script that costs more
    than the whole command); fall back to ``python -m astro_jobs``.
    """
    script = Path(PY).with_name("astro-jobs")
    if script.is_file():
        with open(script, "rb") as handle:
            if handle.read(2) == b"#!":
                return [str(script)]
    return [PY, "-m", "astro_jobs"]


def child(env, mode, *args):
    """Run a section's in-process part in a fresh interpreter; its JSON."""
    proc = subprocess.run([PY, str(Path(__file__).resolve()), "--child", mode, *map(str, args)],
                          env=env, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def verdict(name, ok):
    RESULTS.append((name, ok))
    return "PASS" if ok else "FAIL"


def ms(seconds):
    return f"{seconds * 1000:8.1f} ms"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    # After the command name: utime and stime are fields 12 and 13 (0-based);
    # they cover every thread of the process.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def with_polling(command, delay, max_delay, backoff):
    """The Procfile's command with other polling flags."""
    command = re.sub(r"\s--(delay|max-delay|backoff)\s+\S+", "", command)
    return f"{command} --delay {delay} --max-delay {max_delay} --backoff {backoff}"


class Consumer:
    def __init__(self, env, command, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        # exec: the pid we hold is the consumer itself.
        self.proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=REPO, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while b"Huey consumer started" not in log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"consumer did not start:\n{log_path.read_text()}")
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -- in-process parts (run with --child in a fresh interpreter) ---------------

def durable_write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def child_submit(count, image):
    """Median wall time of astro_jobs.submit() over ``count`` calls.

    Interleaved with the floor of a durable submit: two small files written
    and fsynced beside JOBS_DIR (the image copy and status.json are each
    fsynced; nothing cheaper keeps a returned job across a power loss).
    """
    import astro_jobs
    floor_dir = Path(os.environ["JOBS_DIR"]).with_name("fsync-floor")
    floor_dir.mkdir()
    data = Path(image).read_bytes()
    times, floor = [], []
    for index in range(count):
        start = time.perf_counter()
        astro_jobs.submit(image)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        durable_write(floor_dir / f"{index}.img", data)
        durable_write(floor_dir / f"{index}.json", b"{}" * 300)
        floor.append(time.perf_counter() - start)
    return {"first": times[0], "median": statistics.median(times[1:] or times),
            "p90": sorted(times)[int(len(times) * 0.9)], "floor": statistics.median(floor)}


def child_done_job(image):
    """A job run to ``done`` in this process (for the CLI's status/result)."""
    import astro_jobs
    from astro_jobs.worker import Run, extractor_command
    job_id = astro_jobs.submit(image)
    Run(job_id).execute()
    assert astro_jobs.status(job_id)["state"] == "done"
    return {"job_id": job_id, "extractor": extractor_command()}


def child_pickup(count, gap, first_gap, image):
    """submit returns -> wait returns, one job at a time after idle gaps."""
    import astro_jobs.api
    out = []
    for index in range(count):
        # Random gaps: the submit lands at a random phase of the polling.
        time.sleep(first_gap if index == 0 else gap * random.uniform(0.75, 1.25))
        job_id = astro_jobs.api.submit(image)
        start = time.perf_counter()
        # `wait` polls every 50 ms by default; 2 ms here, so the figure is
        # the consumer's, not this loop's.
        status = astro_jobs.api.wait(job_id, 60, poll=0.002)
        out.append({"latency": time.perf_counter() - start, "state": status["state"]})
    return out


def child_submit_many(count, image):
    import astro_jobs
    from astro_jobs.worker import extractor_command
    return {"ids": [astro_jobs.submit(image) for _ in range(count)],
            "extractor": extractor_command()}


def run_child(mode, args):
    handlers = {
        "submit": lambda: child_submit(int(args[0]), args[1]),
        "done_job": lambda: child_done_job(args[0]),
        "pickup": lambda: child_pickup(int(args[0]), float(args[1]), float(args[2]), args[3]),
        "submit_many": lambda: child_submit_many(int(args[0]), args[1]),
    }
    print(json.dumps(handlers[mode]()))


# -- sections -----------------------------------------------------------------

def section_cli(work, rounds):
    print(f"\n== CLI latency: medians of {rounds} interleaved rounds (random order) ==")
    jobs = work / "cli-jobs"
    env = bench_env(jobs)
    image = make_png(work / "ok.png")
    done = child(env, "done_job", image)["job_id"]
    cli = cli_command()
    commands = {
        "import click": [PY, "-c", "import click"],
        "import click, huey": [PY, "-c", "import click, huey"],
        "status": cli + ["status", "--job-id", done],
        "result": cli + ["result", "--job-id", done],
        "submit": cli + ["submit", "--image", str(image)],
    }
    times = {name: [] for name in commands}
    for round_ in range(rounds + 1):  # round 0 warms caches and is dropped
        order = list(commands)
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            proc = subprocess.run(commands[name], env=env, capture_output=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed: {proc.stdout!r} {proc.stderr!r}")
            if round_:
                times[name].append(elapsed)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"  command: {' '.join(Path(cli[0]).name if i == 0 else a for i, a in enumerate(cli))}")
    for name in commands:
        print(f"  {name:20s} {ms(med[name])}")
    for name, base in (("status", "import click"), ("result", "import click"),
                       ("submit", "import click, huey")):
        ratio = med[name] / med[base]
        print(f"  {name:8s} / {base:20s} = {ratio:5.2f}  (target <= {TARGET_CLI})  "
              f"{verdict(f'cli {name}', ratio <= TARGET_CLI)}")


def section_submit(work, count):
    print(f"\n== astro_jobs.submit() in one process: {count} calls, fresh JOBS_DIR ==")
    image = make_png(work / "ok.png")
    out = child(bench_env(work / "submit-jobs"), "submit", count, image)
    print(f"  first call (creates the queue) {ms(out['first'])}")
    print(f"  median {ms(out['median'])}   p90 {ms(out['p90'])}   (target < {TARGET_SUBMIT_MS} ms)"
          f"  {verdict('submit in-process', out['median'] * 1000 < TARGET_SUBMIT_MS)}")
    print(f"  floor: two small files written and fsynced, interleaved {ms(out['floor'])}"
          f"   submit / floor = {out['median'] / out['floor']:.2f}")


POLLING = [
    # name, (delay, max_delay, backoff) or None for the Procfile's own line
    ("Procfile (fixed 0.1 s)", None),
    ("fixed 0.05 s", (0.05, 0.05, 1)),
    ("fixed 0.25 s", (0.25, 0.25, 1)),
    ("fixed 1 s", (1, 1, 1)),
    ("huey default (0.1 s x1.15, max 10 s)", (0.1, 10, 1.15)),
]


def measure_consumer(work, tag, command, idle, pickups, gap):
    jobs = work / f"pickup-{tag}"
    jobs.mkdir(parents=True)
    env = bench_env(jobs, ASTRO_JOBS_WORKERS="2")
    image = make_png(work / "ok.png")
    consumer = Consumer(env, command, work / f"consumer-{tag}.log")
    try:
        time.sleep(1.0)  # start-up work (first sweep) is not idling
        before, start = cpu_seconds(consumer.proc.pid), time.monotonic()
        time.sleep(idle)
        idle_cpu = (cpu_seconds(consumer.proc.pid) - before) / (time.monotonic() - start)
        # The first job comes right after the measured idle period.
        runs = child(env, "pickup", pickups, gap, 0, image)
    finally:
        consumer.stop()
    bad = [r for r in runs if r["state"] != "done"]
    if bad:
        raise SystemExit(f"pickup jobs did not finish: {bad}")
    latencies = [r["latency"] for r in runs]
    return idle_cpu, latencies


def section_pickup(work, idle, pickups, gap, other_idle, other_pickups, settings):
    print("\n== Pickup after idle, and idle CPU (real consumer, stand-in 'ok' jobs) ==")
    base = procfile_worker_command()
    print(f"  Procfile: {base}")
    print(f"  {'polling':38s} {'idle CPU':>9s} {'1st after idle':>15s} {'median':>9s}"
          f" {'max':>9s}  n")
    for index, (name, flags) in enumerate(settings):
        command = base if flags is None else with_polling(base, *flags)
        main = flags is None
        cpu, lat = measure_consumer(work, f"p{index}", command,
                                    idle if main else other_idle,
                                    pickups if main else other_pickups, gap)
        print(f"  {name:38s} {cpu * 100:8.2f}% {ms(lat[0]):>15s} {ms(statistics.median(lat)):>9s}"
              f" {ms(max(lat)):>9s}  {len(lat)}", flush=True)
        if main:
            med = statistics.median(lat)
            print(f"    pickup median {med * 1000:.0f} ms after {idle:g} s idle then "
                  f"{gap:g} s gaps (target <= {TARGET_PICKUP_S * 1000:.0f} ms)  "
                  f"{verdict('pickup', med <= TARGET_PICKUP_S)}")
            print(f"    idle CPU {cpu * 100:.2f}% of a core over {idle:g} s (target <= "
                  f"{TARGET_IDLE_CPU * 100:.0f}%)  {verdict('idle cpu', cpu <= TARGET_IDLE_CPU)}")


def extractor_back_to_back(command, image, folder, count, env):
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


def extractor_in_parallel(command, image, folder, count, env, workers):
    """Jobs/s of ``workers`` threads each running the extractor back to back.

    Not the target's floor (that is workers / mean time), but what this
    machine gives right now when that many extractors share its cores.
    """
    import threading
    threads = [threading.Thread(target=extractor_back_to_back,
                                args=(command, image, folder / f"w{i}", count, env))
               for i in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return workers * count / (time.perf_counter() - start)


def section_drain(work, count, workers, baseline_runs):
    from datetime import datetime
    print(f"\n== Drain: {count} queued instant jobs on {workers} workers ==")
    jobs = work / "drain-jobs"
    env = bench_env(jobs, ASTRO_JOBS_WORKERS=str(workers))
    image = make_png(work / "ok.png")
    queued = child(env, "submit_many", count, image)
    extractor, ids = queued["extractor"], queued["ids"]
    scratch = work / "extractor-runs"
    before, cpu_ext1 = extractor_back_to_back(extractor, image, scratch, baseline_runs, env)
    consumer = Consumer(env, procfile_worker_command(), work / "consumer-drain.log")
    consumer_cpu = cpu_seconds(consumer.proc.pid)
    try:
        pending = set(ids)
        deadline = time.monotonic() + 600
        while pending and time.monotonic() < deadline:
            time.sleep(0.5)
            for job_id in list(pending):
                with open(jobs / job_id / "status.json", "rb") as handle:
                    if json.load(handle)["state"] in ("done", "error", "cancelled"):
                        pending.discard(job_id)
        consumer_cpu = cpu_seconds(consumer.proc.pid) - consumer_cpu
    finally:
        consumer.stop()
    after, cpu_ext2 = extractor_back_to_back(extractor, image, scratch, baseline_runs, env)
    parallel = extractor_in_parallel(extractor, image, scratch, baseline_runs, env, workers)

    def epoch(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    statuses = [json.loads((jobs / job_id / "status.json").read_text()) for job_id in ids]
    states = {}
    for status in statuses:
        states[status["state"]] = states.get(status["state"], 0) + 1
    spans = [(epoch(s["started_at"]), epoch(s["finished_at"])) for s in statuses
             if s["started_at"] and s["finished_at"]]
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    rate = len(spans) / span
    mean_ext = statistics.mean(before + after)
    floor = workers / mean_ext
    ratio = rate / floor
    print(f"  extractor back to back: mean {ms(mean_ext)} over {len(before + after)} runs "
          f"({' '.join(extractor[-1:])})")
    print(f"  extractor CPU {(cpu_ext1 + cpu_ext2) / 2 * 1000:.1f} ms a run; consumer CPU "
          f"{consumer_cpu / count * 1000:.1f} ms a job (its own threads, not the extractors)")
    print(f"  states {states}; first start -> last finish {span:.2f} s")
    print(f"  drain {rate:6.1f} jobs/s   floor {workers} / mean = {floor:6.1f} jobs/s   "
          f"ratio {ratio:.2f} (target >= {TARGET_DRAIN})  "
          f"{verdict('drain', ratio >= TARGET_DRAIN and states.get('done') == count)}")
    # Where a worker's time goes: the extractor as the runner timed it
    # (task.log), the rest of the job's claim -> finish, and the gap between
    # one job's finish and the next claim on the same worker thread.
    in_runner, overhead, gaps, by_thread = [], [], [], {}
    for status in statuses:
        log = (jobs / status["job_id"] / "task.log").read_text()
        found = re.search(r"extractor exited with code 0 after ([0-9.]+) s", log)
        if found and status["finished_at"]:
            start, end = epoch(status["started_at"]), epoch(status["finished_at"])
            in_runner.append(float(found.group(1)))
            overhead.append(end - start - in_runner[-1])
            by_thread.setdefault(status["worker"].get("thread"), []).append((start, end))
    for runs in by_thread.values():
        runs.sort()
        gaps += [b[0] - a[1] for a, b in zip(runs, runs[1:])]
    print(f"  per job (medians): extractor under the consumer {ms(statistics.median(in_runner))}, "
          f"rest of claim -> finish {ms(statistics.median(overhead))}, "
          f"finish -> next claim {ms(statistics.median(gaps))}")
    print(f"  for reference: {workers} extractors back to back side by side (no runner) "
          f"{parallel:6.1f} jobs/s; drain / that = {rate / parallel:.2f}")
    peak = max_overlap(spans)
    print(f"  most jobs between started_at and finished_at at once: {peak} "
          f"(target <= {workers})  {verdict('bounded', peak <= workers)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="cli,submit,pickup,drain",
                        help="comma-separated sections: cli, submit, pickup, drain")
    parser.add_argument("--rounds", type=int, default=40, help="CLI rounds")
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--idle", type=float, default=20.0,
                        help="idle seconds before pickups (Procfile setting)")
    parser.add_argument("--pickups", type=int, default=12)
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between pickups")
    parser.add_argument("--other-idle", type=float, default=15.0,
                        help="idle seconds for the other polling settings")
    parser.add_argument("--other-pickups", type=int, default=5)
    parser.add_argument("--no-tradeoff", action="store_true",
                        help="measure the Procfile's polling only")
    parser.add_argument("--jobs", type=int, default=150, help="drain size")
    parser.add_argument("--extractor-runs", type=int, default=25,
                        help="back-to-back extractor runs before and after the drain")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter idles")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep the caller's PYTHONDONTWRITEBYTECODE (astro_jobs is "
                             "then compiled on every run of an editable install)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args.child[0], args.child[1:])
    if args.quick:
        args.rounds, args.submits, args.idle, args.pickups = 15, 100, 8.0, 6
        args.other_idle, args.other_pickups, args.extractor_runs = 6.0, 3, 10
    sections = set(args.only.split(","))
    global PYCACHE
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-"))
    if not args.no_bytecode_cache:
        PYCACHE = work / "pycache"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, scratch {work}")
    try:
        if "cli" in sections:
            section_cli(work, args.rounds)
        if "submit" in sections:
            section_submit(work, args.submits)
        if "pickup" in sections:
            settings = POLLING[:1] if args.no_tradeoff else POLLING
            section_pickup(work, args.idle, args.pickups, args.gap, args.other_idle,
                           args.other_pickups, settings)
        if "drain" in sections:
            section_drain(work, args.jobs, 2, args.extractor_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n== Summary ==")
    for name, ok in RESULTS:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
