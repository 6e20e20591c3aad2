#!/usr/bin/env python3
"""Submit: astro_jobs.submit() in one process against the floor of a durable
submit (the image and a small file written and fsynced), and `astro-jobs
submit` as a fresh process against a bare client's `import click, huey`.

    python bench/submit.py [--count 200] [--rounds 30]

The image is the corpus' largest (a 1.2 MB JPEG), as a user submits, not
a tiny one. The image copy and status.json are each fsynced before submit
returns: nothing cheaper keeps a returned job across a power loss, so the
floor is the disk's. Targets: median < 5 ms in one process; a fresh
`astro-jobs submit` <= 1.2 x `import click, huey` (medians of interleaved
rounds, as bench/cli.py measures them).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cli import BARE_CLIENT, cli_command, medians  # noqa: E402

from harness.support import CORPUS, python_snippet, scrubbed_env  # noqa: E402

from targets import Verdicts  # noqa: E402

TARGET_MS = 5.0
TARGET_RATIO = 1.2
SKY_IMAGE = CORPUS / "m44-1910-04-01.jpg"

# Runs in a fresh interpreter: the first call creates the queue.
CHILD = """
import json, os, statistics, sys, time
from pathlib import Path
import astro_jobs

def durable_write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)

image, count = sys.argv[1], int(sys.argv[2])
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
print(json.dumps({"first": times[0], "median": statistics.median(times[1:] or times),
                  "p90": sorted(times)[int(len(times) * 0.9)],
                  "floor": statistics.median(floor)}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-submit-"))
    env = scrubbed_env(work / "jobs")
    code = f"import sys; sys.argv[1:] = [{str(SKY_IMAGE)!r}, '{args.count}']\n" + CHILD
    out = json.loads(python_snippet(code, env).splitlines()[-1])
    print(f"astro_jobs.submit() in one process, {args.count} calls of "
          f"{SKY_IMAGE.name} ({SKY_IMAGE.stat().st_size / 1e6:.1f} MB), fresh JOBS_DIR")
    print(f"  first call (creates the queue) {out['first'] * 1000:8.1f} ms")
    print(f"  p90 {out['p90'] * 1000:.1f} ms; floor: the image and a small file written and "
          f"fsynced {out['floor'] * 1000:.1f} ms; submit / floor = "
          f"{out['median'] / out['floor']:.2f}")
    fresh = fresh_process_medians(work, args.rounds)
    verdicts = Verdicts("bench/submit.py")
    verdicts.at_most("median submit", out["median"] * 1000, TARGET_MS, unit="ms", digits=1)
    verdicts.at_most("astro-jobs submit / import click, huey",
                     fresh["submit"] / fresh["import click, huey"], TARGET_RATIO, digits=2)
    return verdicts.finish()


def fresh_process_medians(work, rounds):
    """`astro-jobs submit` and the bare client, each a fresh process, interleaved."""
    # Bytecode cached in scratch, as on an installed system.
    env = scrubbed_env(work / "cli-jobs", PYTHONPYCACHEPREFIX=str(work / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {"import click, huey": [sys.executable, "-c", BARE_CLIENT],
                "submit": cli_command() + ["submit", "--image", str(SKY_IMAGE)]}
    med = medians(commands, env, rounds)
    print(f"fresh processes, medians of {rounds} interleaved rounds: " + ", ".join(
        f"{name} {value * 1000:.1f} ms" for name, value in med.items()))
    return med


if __name__ == "__main__":
    sys.exit(main())
