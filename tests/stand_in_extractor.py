#!/usr/bin/env python3
"""A stand-in for the real extractor, for testing the runner.

It follows the extractor contract; what it does is chosen by the name of
the image it is given (the tests submit copies named after the behaviour):

    ok          write a small result.json and exit 0
    unsolved    write a result.json of an image that did not solve, exit 0
    sky         write a solved result.json with a calibration (Ursa Major)
    fail        print to stderr and exit 3
    hang        sleep for two minutes
    garbage     write a result.json that is not JSON
    array       write a result.json that is JSON but not an object
    noresult    exit 0 without writing a result
    grandchild  start a grandchild (pid in output/grandchild.pid), then hang
    daemon      start a grandchild and exit 0 at once
    stages      walk through the stages, 1 s each (long enough for a poller
                on a loaded machine to see each), then succeed
    slow<N>     sleep N tenths of a second, then succeed
    chaos<N>    sleep N tenths, then take 0.1 s to write the result (stage
                ``writing``): a target for bench/chaos.py's kills
    stubborn    ignore SIGTERM and hang
    segfault    die of SIGSEGV
    fill        write output/fill.bin until the disk is full, then fail

With STAND_IN_LEDGER set, each run first appends its run marker
(ASTRO_JOBS_RUN) to STAND_IN_LEDGER/<job id>: how often a job really ran.
    bigfile     try to write a file larger than the file-size limit
    memhog      try to allocate 1 GB

A star list (given with --width and --height) is named by the server, not
the test: it behaves as ``ok``.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time


def set_stage(name):
    path = os.environ.get("ASTRO_JOBS_STAGE_FILE")
    if path:
        with open(path + ".tmp", "w") as handle:
            handle.write(name)
        os.replace(path + ".tmp", path)


def write_result(path, extra=None):
    result = {"solved": True, "stand_in": True, "argv": sys.argv[1:], "cwd": os.getcwd(),
              "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
              "job_env": os.environ.get("ASTRO_JOBS_JOB_ID"),
              "run": os.environ.get("ASTRO_JOBS_RUN")}
    result.update(extra or {})
    with open(path + ".tmp", "w") as handle:
        json.dump(result, handle)
    os.replace(path + ".tmp", path)


def record_run():
    ledger = os.environ.get("STAND_IN_LEDGER")
    if ledger:
        with open(os.path.join(ledger, os.environ["ASTRO_JOBS_JOB_ID"]), "a") as handle:
            handle.write(os.environ["ASTRO_JOBS_RUN"] + "\n")


def write_slowly(path):
    """A result written in two halves 0.1 s apart, then renamed into place."""
    set_stage("writing")
    data = json.dumps({"solved": True, "stand_in": True, "pid": os.getpid(),
                       "job_env": os.environ.get("ASTRO_JOBS_JOB_ID"),
                       "run": os.environ.get("ASTRO_JOBS_RUN")}).encode()
    with open(path + ".tmp", "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        time.sleep(0.1)
        handle.write(data[len(data) // 2:])
    os.replace(path + ".tmp", path)


def fill_disk():
    block = b"\0" * 65536
    try:
        with open("fill.bin", "wb") as handle:
            while True:
                handle.write(block)
                handle.flush()
    except OSError as exc:
        print(f"cannot write fill.bin: {exc}", file=sys.stderr, flush=True)
    return 1


def main():
    record_run()
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--scale-low")
    parser.add_argument("--scale-high")
    parser.add_argument("--scale-units")
    parser.add_argument("--downsample")
    parser.add_argument("--timeout")
    parser.add_argument("--width")
    parser.add_argument("--height")
    args = parser.parse_args()
    mode = os.path.splitext(os.path.basename(args.image))[0].split("-")[0]
    if args.width is not None:
        mode = "ok"
    print(f"stand-in extractor: mode {mode}", flush=True)
    if mode == "ok":
        write_result(args.output)
    elif mode == "sky":
        write_result(args.output, {"calibration": {
            "ra": 187.184406, "dec": 56.710979, "radius_deg": 20.3771, "ra_hms": "12:28:44.258",
            "dec_dms": "+56:42:39.524", "pixscale_arcsec": 170.789, "orientation_deg": 58.5,
            "parity": "negative", "field_width_deg": 33.14, "field_height_deg": 23.72}})
    elif mode == "unsolved":
        write_result(args.output, {"solved": False, "reason": "no_match_in_scale_range",
                                   "explanation": "No match among the stars found."})
    elif mode == "fail":
        print("something went wrong: line one", file=sys.stderr)
        print("the final complaint", file=sys.stderr)
        return 3
    elif mode == "hang":
        time.sleep(120)
    elif mode == "garbage":
        with open(args.output, "w") as handle:
            handle.write("this is not json {")
    elif mode == "array":
        with open(args.output, "w") as handle:
            json.dump([1, 2, 3], handle)
    elif mode == "noresult":
        pass
    elif mode in ("grandchild", "daemon"):
        child = subprocess.Popen(["sleep", "300"])
        with open("grandchild.pid", "w") as handle:
            handle.write(str(child.pid))
        if mode == "daemon":
            write_result(args.output)
            return 0
        time.sleep(120)
    elif mode == "stages":
        for stage in ("reading", "detecting_stars", "solving", "annotating"):
            set_stage(stage)
            time.sleep(1.0)
        write_result(args.output)
    elif mode.startswith("slow"):
        time.sleep(int(mode[4:] or 10) / 10)
        write_result(args.output)
    elif mode.startswith("chaos"):
        time.sleep(int(mode[5:] or 5) / 10)
        write_slowly(args.output)
    elif mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(120)
    elif mode == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "fill":
        return fill_disk()
    elif mode == "bigfile":
        with open("big.bin", "wb") as handle:
            handle.write(b"\0" * (4 * 1024 * 1024))
        write_result(args.output)
    elif mode == "memhog":
        hog = bytearray(1024 * 1024 * 1024)
        write_result(args.output, {"allocated": len(hog)})
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main())
