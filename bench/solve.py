"""Bundled extractor vs plain solve-field on the sky corpus, side by side.

    python bench/solve.py [--corpus DIR] [--plain-limit S] [--timeout S] [--no-plain]

For each corpus image: the extractor's wall time (no hints), whether it
solved, its centre error against expected.json in % of the field width;
then the same for plain `solve-field IMG --dir D` (defaults otherwise) with
a wall limit, counted as the limit when hit. Prints median and totals.
Corpus: --corpus, else tests/data/corpus of
the repository.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from support import CORPUS, separation_deg  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".fits", ".fit")


def run_extractor(image, workdir, timeout):
    output = os.path.join(workdir, "result.json")
    argv = [sys.executable, "-m", "astro_jobs.extract", "--image", image, "--output", output,
            "--timeout", str(timeout)]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        return seconds, None, "exit %d: %s" % (proc.returncode, proc.stderr.strip().splitlines()[-1:])
    with open(output, encoding="utf-8") as fh:
        doc = json.load(fh)
    cal = doc.get("calibration") if doc.get("solved") else None
    return seconds, (cal["ra"], cal["dec"]) if cal else None, ""


def run_plain(image, workdir, limit):
    started = time.monotonic()
    proc = subprocess.Popen(["solve-field", image, "--dir", workdir], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=limit)
        seconds = time.monotonic() - started
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        seconds = float(limit)
    base = os.path.splitext(os.path.basename(image))[0]
    wcs = os.path.join(workdir, base + ".wcs")
    if not os.path.exists(os.path.join(workdir, base + ".solved")) or not os.path.exists(wcs):
        return seconds, None
    info = dict(line.split(None, 1) for line in subprocess.run(
        ["wcsinfo", wcs], capture_output=True, text=True).stdout.splitlines() if " " in line)
    return seconds, (float(info["ra_center"]), float(info["dec_center"]))


def describe(centre, expect):
    if centre is None:
        return "no", None
    if not expect.get("solvable", True) or "ra" not in expect:
        return "yes", None
    error = separation_deg(centre[0], centre[1], expect["ra"], expect["dec"])
    return "yes", 100.0 * error / expect["width"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--plain-limit", type=float, default=300.0,
                        help="wall seconds per image for plain solve-field (default 300)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="the extractor's --timeout, like a job's (default 600)")
    parser.add_argument("--no-plain", action="store_true", help="skip plain solve-field")
    parser.add_argument("images", nargs="*", help="only these corpus file names")
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    expected_path = os.path.join(corpus, "expected.json")
    if not os.path.exists(expected_path):
        sys.exit("no corpus at %s (set --corpus or ASTRO_JOBS_CORPUS)" % corpus)
    with open(expected_path, encoding="utf-8") as fh:
        expected = json.load(fh)
    names = args.images or sorted(n for n in os.listdir(corpus) if n.lower().endswith(IMAGE_SUFFIXES))
    print("corpus: %s" % corpus)
    print("%-22s %9s %6s %8s | %9s %6s %8s | %6s" % (
        "image", "ours s", "solved", "err %w", "plain s", "solved", "err %w", "ratio"))
    ours_t, plain_t, failures = [], [], []
    for name in names:
        image = os.path.join(corpus, name)
        expect = expected.get(name, {})
        scratch = tempfile.mkdtemp(prefix="bench-")
        try:
            seconds, centre, error = run_extractor(image, scratch, args.timeout)
            solved, err = describe(centre, expect)
            ours_t.append(seconds)
            if error:
                failures.append("%s: %s" % (name, error))
            if expect.get("solvable", True) != (solved == "yes") or (err is not None and err > 2.0):
                failures.append("%s: solved=%s expected solvable=%s err=%s" % (
                    name, solved, expect.get("solvable"), err))
            p_txt = ("%9s %6s %8s" % ("-", "-", "-"))
            ratio = ""
            if not args.no_plain:
                plain_dir = os.path.join(scratch, "plain")
                os.makedirs(plain_dir)
                p_seconds, p_centre = run_plain(image, plain_dir, args.plain_limit)
                p_solved, p_err = describe(p_centre, expect)
                plain_t.append(p_seconds)
                p_txt = "%9.2f %6s %8s" % (p_seconds, p_solved, _fmt(p_err))
                ratio = "%6.3f" % (seconds / p_seconds)
            print("%-22s %9.2f %6s %8s | %s | %6s" % (name, seconds, solved, _fmt(err), p_txt, ratio),
                  flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    print("median s: ours %.2f%s" % (statistics.median(ours_t),
                                     "" if not plain_t else ", plain %.2f" % statistics.median(plain_t)))
    if plain_t:
        print("total s:  ours %.2f, plain %.2f, ratio %.3f" % (sum(ours_t), sum(plain_t),
                                                             sum(ours_t) / sum(plain_t)))
    else:
        print("total s:  ours %.2f" % sum(ours_t))
    for failure in failures:
        print("FAIL " + failure)
    return 1 if failures else 0


def _fmt(err):
    return "-" if err is None else "%.3f" % err


if __name__ == "__main__":
    sys.exit(main())
