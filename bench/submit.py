#!/usr/bin/env python3
"""In-process submit: astro_jobs.submit() per call, against the floor of a
durable submit (two small files written and fsynced), side by side.

    python bench/submit.py [--count 200]

The image copy and status.json are each fsynced before submit returns:
nothing cheaper keeps a returned job across a power loss, so the floor is
the disk's. Target: median < 5 ms.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.support import make_png, python_snippet, scrubbed_env  # noqa: E402

TARGET_MS = 5.0

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
    image = make_png(work / "ok.png")
    code = f"import sys; sys.argv[1:] = [{str(image)!r}, '{args.count}']\n" + CHILD
    out = json.loads(python_snippet(code, env).splitlines()[-1])
    ok = out["median"] * 1000 < TARGET_MS
    print(f"astro_jobs.submit() in one process, {args.count} calls, fresh JOBS_DIR")
    print(f"  first call (creates the queue) {out['first'] * 1000:8.1f} ms")
    print(f"  median {out['median'] * 1000:.1f} ms   p90 {out['p90'] * 1000:.1f} ms   "
          f"(target < {TARGET_MS} ms)  {'PASS' if ok else 'FAIL'}")
    print(f"  floor: two small files written and fsynced {out['floor'] * 1000:.1f} ms   "
          f"submit / floor = {out['median'] / out['floor']:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
