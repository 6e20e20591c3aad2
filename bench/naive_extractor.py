#!/usr/bin/env python3
"""The extractor a user would write first: one solve-field call, a baseline
for bench/solve.py (run as ASTRO_EXTRACT_BIN by a real consumer).

    ASTRO_EXTRACT_BIN=bench/naive_extractor.py huey_consumer ...
    python bench/naive_extractor.py --image IMG --output result.json [--timeout S]

It follows the extractor contract (docs/contract.md): solve-field with its
defaults but for plots (`--no-plots`), the job's scale hints and its timeout
as the CPU limit; then the centre from the .wcs file solve-field wrote
(wcsinfo), since solve-field exits 0 whether or not it solved. It writes
`{"solved": true, "calibration": {"ra", "dec"}}` or `{"solved": false}`.
"""
import argparse
import json
import subprocess
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--scale-low", type=float)
    parser.add_argument("--scale-high", type=float)
    parser.add_argument("--scale-units", default="degwidth")
    parser.add_argument("--downsample", type=int)
    parser.add_argument("--timeout", type=float, default=600)
    return parser.parse_args()


def solve_field_argv(args, folder):
    argv = ["solve-field", args.image, "--dir", str(folder), "--no-plots", "--overwrite",
            "--cpulimit", str(max(1, int(args.timeout)))]
    if args.scale_low is not None and args.scale_high is not None:
        argv += ["--scale-low", str(args.scale_low), "--scale-high", str(args.scale_high),
                 "--scale-units", args.scale_units]
    if args.downsample:
        argv += ["--downsample", str(args.downsample)]
    return argv


def centre(wcs):
    """(ra, dec) of the field centre from a .wcs file, by wcsinfo."""
    out = subprocess.run(["wcsinfo", str(wcs)], capture_output=True, text=True,
                         check=True).stdout
    info = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    return float(info["ra_center"]), float(info["dec_center"])


def main():
    args = parse_args()
    folder = Path(args.output).resolve().parent / "solve-field"
    folder.mkdir(exist_ok=True)
    subprocess.run(solve_field_argv(args, folder), check=True)
    wcs = folder / (Path(args.image).name.rsplit(".", 1)[0] + ".wcs")
    result = {"solved": False}
    if wcs.exists():
        ra, dec = centre(wcs)
        result = {"solved": True, "calibration": {"ra": ra, "dec": dec}}
    Path(args.output).write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
