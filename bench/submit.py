#!/usr/bin/env python3
"""In-process submit: astro_jobs.submit() per call, against the floor of a
durable submit (the image and a small file written and fsynced), side by side.

    python bench/submit.py [--count 200]

The image is the corpus' largest (a 1.2 MB JPEG), as a user submits, not
a tiny one. The image copy and status.json are each fsynced before submit
returns: nothing cheaper keeps a returned job across a power loss, so the
floor is the disk's. Target: median < 5 ms.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.support import CORPUS, python_snippet, scrubbed_env  # noqa: E402

from targets import Verdicts  # noqa: E402

TARGET_MS = 5.0
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
    verdicts = Verdicts("bench/submit.py")
    verdicts.at_most("median submit", out["median"] * 1000, TARGET_MS, unit="ms", digits=1)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
