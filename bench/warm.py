#!/usr/bin/env python3
"""The warm extractor against the base commit, side by side in one run.

    python bench/warm.py [--base COMMIT] [--repeat N] [--solves N]

Checks the base commit (default 368da64, the last one with a cold extractor
only) out beside this one with `git worktree add` and runs each checkout's
own consumer (the Procfile's command, 2 workers, the bundled extractor)
on its own JOBS_DIR; a client of the same checkout submits and waits (2 ms
poll), so every figure is submit-to-done as a user sees it. Figures:

- hinted: apod2 with its centre given 0.5 degree off and its width within
  10% (the base gets the width only: it has no pointing), median of N;
- star list: 200 stars of the sample image, median of N;
- sequence: 20 frames of one field, each a little shifted and turned
  (harness/frames.py), submitted one after another with `sequence=` (the
  base: plain), median per frame after the first;
- throughput: 20 solvable corpus images queued at once: images per minute,
  and CPU seconds per image (the machine's busy time over the run);
- memory: resident size of the warm extractors after 50 and after N
  solves (star-list jobs);
- unsolvable: apod5 (a painting) submit-to-done.

Each figure is printed with its target and PASS/FAIL; the exit status is 1
if any target is missed or a figure could not be measured.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness.frames import make_sequence  # noqa: E402
from harness.support import CORPUS, Consumer, scrubbed_env  # noqa: E402

from targets import Verdicts  # noqa: E402

BASE = "368da64"
HINTED_S = STARLIST_S = SEQUENCE_S = 0.25
CPU_RATIO, RATE_RATIO, RSS_GROWTH, UNSOLVABLE_S = 0.5, 2.0, 1.10, 10.0
THROUGHPUT = ["apod1.jpg", "apod2.jpg", "apod3.jpg", "apod4.jpg", "m44-1910-04-01.jpg"] * 4
APOD2 = json.loads((CORPUS / "expected.json").read_text())["apod2.jpg"]
_TICKS = os.sysconf("SC_CLK_TCK")

CLIENT = r"""
import json, sys, time
import astro_jobs
from astro_jobs import api

spec = json.loads(sys.stdin.read())

def submit(item):
    if item.get("width"):
        return astro_jobs.submit_sources(item["path"], item["width"], item["height"],
                                         **item["opts"])
    return astro_jobs.submit(item["path"], **item["opts"])

if spec["together"]:
    start = time.perf_counter()
    ids = [submit(item) for item in spec["items"]]
    for job_id in ids:
        api.wait(job_id, 900, poll=0.01)
    print(json.dumps([{"seconds": time.perf_counter() - start, "job_id": j} for j in ids]))
else:
    runs = []
    for item in spec["items"]:
        start = time.perf_counter()
        job_id = submit(item)
        api.wait(job_id, 300, poll=0.002)
        runs.append({"seconds": time.perf_counter() - start, "job_id": job_id})
    print(json.dumps(runs))
"""


class Side:
    """One checkout: its consumer, its JOBS_DIR, its client."""

    def __init__(self, name, checkout, work):
        self.name, self.checkout = name, checkout
        self.env = scrubbed_env(work / name / "jobs", PYTHONPATH=str(checkout))
        del self.env["ASTRO_EXTRACT_BIN"]  # the bundled extractor, of this checkout
        self.consumer = Consumer(self.env, 2, work / f"{name}-consumer.log")

    def run(self, items, together=False):
        """[(seconds, solved)] of ``items`` submitted one by one (or all at once)."""
        proc = subprocess.run([sys.executable, "-c", CLIENT], cwd=self.checkout, env=self.env,
                              input=json.dumps({"items": items, "together": together}),
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} client failed: {proc.stderr[-2000:]}")
        return [(run["seconds"], self.solved(run["job_id"]))
                for run in json.loads(proc.stdout.splitlines()[-1])]

    def solved(self, job_id):
        path = self.env.jobs_dir / job_id / "output" / "result.json"
        try:
            return json.loads(path.read_text()).get("solved") is True
        except (OSError, ValueError):
            return False

    def warm_rss_kb(self):
        """Resident size of the consumer's warm extractors, in kB (0: none)."""
        return sum(rss_kb(pid) for pid in children(self.consumer.pid)
                   if b"astro_jobs.extract.warm" in read(f"/proc/{pid}/cmdline"))

    def stop(self):
        self.consumer.stop()


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        found += [int(c) for c in read(f"/proc/{pid}/task/{task}/children").split()]
    return found


def machine_busy_seconds():
    """CPU seconds every core of the machine has spent busy (/proc/stat)."""
    fields = read("/proc/stat").split(b"\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / _TICKS


def rss_kb(pid):
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"VmRSS:"):
            return int(line.split()[1])
    return 0


def image(path, **opts):
    return {"path": str(path), "opts": opts}


def star_list(folder):
    """200 stars of the sample image (x,y,flux), as a CSV; the job item."""
    rows = (REPO / "tests" / "data" / "sample" / "apod4-stars.csv").read_text().splitlines()
    path = folder / "stars-200.csv"
    path.write_text("\n".join(rows[:201]) + "\n")
    return {"path": str(path), "width": 719, "height": 507, "opts": {}}


def hinted(new):
    if not new:
        return image(CORPUS / "apod2.jpg", scale_low=APOD2["width"] * 0.95,
                     scale_high=APOD2["width"] * 1.05)
    return image(CORPUS / "apod2.jpg", scale_low=APOD2["width"] * 0.95,
                 scale_high=APOD2["width"] * 1.05, ra=APOD2["ra"] + 0.5, dec=APOD2["dec"],
                 radius=1.0)


def median_after(runs, skip=0):
    """Median seconds of ``runs`` (after the first ``skip``), None if any did not solve."""
    if not runs or not all(solved for _, solved in runs):
        return None
    return statistics.median(seconds for seconds, _ in runs[skip:])


def latencies(sides, work, repeat):
    """{figure: {side: seconds}} of the submit-to-done figures."""
    frames = make_sequence(CORPUS / "apod2.jpg", work / "frames", 20)
    figures = {"hinted": {}, "star list": {}, "sequence": {}, "unsolvable": {}}
    for side in sides:
        new = side.name == "new"
        # One unmeasured job first: both sides start their timings warm.
        side.run([image(CORPUS / "apod4.jpg")])
        figures["hinted"][side.name] = median_after(side.run([hinted(new)] * repeat))
        figures["star list"][side.name] = median_after(side.run([star_list(work)] * repeat))
        name = f"bench-{uuid.uuid4().hex[:8]}"
        runs = side.run([image(f, **({"sequence": name} if new else {})) for f in frames])
        figures["sequence"][side.name] = median_after(runs, skip=1)
        seconds, solved = side.run([image(CORPUS / "apod5.jpg")])[0]
        figures["unsolvable"][side.name] = None if solved else seconds
    return figures


def throughput(side):
    """(images per minute, CPU seconds per image) of THROUGHPUT queued at once.

    CPU is the whole machine's busy time over the run (the other side's
    consumer sits idle meanwhile): the consumer's process tree misses what
    a killed solve-field's orphaned engine burns, which would flatter a
    side whose races kill solve-fields.
    """
    before = machine_busy_seconds()
    runs = side.run([image(CORPUS / name) for name in THROUGHPUT], together=True)
    cpu = machine_busy_seconds() - before
    if not all(solved for _, solved in runs):
        return None, None
    return 60.0 * len(runs) / max(s for s, _ in runs), cpu / len(runs)


def memory(side, work, solves):
    """Resident kB of the warm extractors after 50 and after ``solves`` solves."""
    done, sizes = 0, {}
    for mark in (50, solves):
        runs = side.run([star_list(work)] * (mark - done), together=True)
        if not all(solved for _, solved in runs):
            return None, None
        done = mark
        sizes[mark] = side.warm_rss_kb()
    return sizes[50] or None, sizes[solves] or None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=BASE, help="the commit to compare with (%s)" % BASE)
    parser.add_argument("--repeat", type=int, default=9, help="runs of each latency (9)")
    parser.add_argument("--solves", type=int, default=500, help="solves before memory (500)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-warm-"))
    base = work / "base"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(base),
                    args.base], check=True)
    try:
        return bench(work, base, args)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                       check=False)
        shutil.rmtree(work, ignore_errors=True)


def bench(work, base_checkout, args):
    sides = []
    try:
        sides = [Side("base", base_checkout, work), Side("new", REPO, work)]
        figures = latencies(sides, work, args.repeat)
        rates = {side.name: throughput(side) for side in sides}
        figures["images/min"] = {name: rate for name, (rate, _) in rates.items()}
        figures["CPU s/image"] = {name: cpu for name, (_, cpu) in rates.items()}
        rss50, rss_n = memory(sides[1], work, args.solves)
    finally:
        for side in sides:
            side.stop()
    return report(figures, rss50, rss_n, args.solves)


def report(figures, rss50, rss_n, solves):
    """Print every figure, then each target's verdict; the exit code."""
    base, new = ({k: v.get(side) for k, v in figures.items()} for side in ("base", "new"))
    print("%-24s %10s %10s" % ("figure", "base", "new"))
    for name in figures:
        print("%-24s %10s %10s" % (name, _fmt(base[name]), _fmt(new[name])))
    print("warm RSS: %s kB after 50 solves, %s kB after %d" % (rss50, rss_n, solves))
    verdicts = Verdicts("bench/warm.py")
    verdicts.at_most("hinted solve, submit-to-done", new["hinted"], HINTED_S, "s")
    verdicts.at_most("star-list job, submit-to-done", new["star list"], STARLIST_S, "s")
    verdicts.at_most("sequence, per frame after the first", new["sequence"], SEQUENCE_S, "s")
    verdicts.at_most("unsolvable, submit-to-done", new["unsolvable"], UNSOLVABLE_S, "s")
    verdicts.at_most("CPU s per image, new / base",
                     _ratio(new["CPU s/image"], base["CPU s/image"]), CPU_RATIO)
    verdicts.at_least("images per minute, new / base",
                      _ratio(new["images/min"], base["images/min"]), RATE_RATIO)
    verdicts.at_most(f"warm RSS after {solves} / after 50 solves", _ratio(rss_n, rss50),
                     RSS_GROWTH)
    return verdicts.finish()


def _ratio(a, b):
    return None if a is None or not b else a / b


def _fmt(value):
    return "missing" if value is None else "%.3f" % value


if __name__ == "__main__":
    sys.exit(main())
