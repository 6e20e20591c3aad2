"""astro-extract: plate-solve one sky image offline and write result.json.

    astro-extract --image IMG --output OUT/result.json
        [--scale-low F --scale-high F --scale-units degwidth|arcminwidth|arcsecperpix]
        [--downsample N] [--timeout S]

Exit 0 with a JSON object at --output whenever the file is an image, solved
or not; exit 2 when it is not a readable image, 1 on internal failure.
"""
import argparse
import os
import shutil
import signal
import sys
import time

from . import annotate, metadata, plan, result, solver, stars
from .image import UnreadableImage, read_image
from .progress import enter_stage, log

DEFAULT_TIMEOUT = 600.0
# Fewer detections than this cannot form two quads to match and verify.
MIN_STARS = 6


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="astro-extract", description=__doc__.split("\n")[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--scale-low", type=float)
    parser.add_argument("--scale-high", type=float)
    parser.add_argument("--scale-units", default="degwidth",
                        choices=("degwidth", "arcminwidth", "arcsecperpix", "focalmm"))
    parser.add_argument("--downsample", type=int)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    if (args.scale_low is None) != (args.scale_high is None):
        parser.error("--scale-low and --scale-high go together")
    if args.scale_low is not None and not 0 < args.scale_low < args.scale_high:
        parser.error("need 0 < --scale-low < --scale-high")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def solve_deadline(started, timeout):
    """When to stop searching: the runner kills us at `timeout`, and
    annotating plus writing need a few seconds after the last attempt."""
    margin = min(max(5.0, 0.1 * timeout), 30.0)
    return started + max(1.0, timeout - margin)


def run(args):
    started = time.monotonic()
    deadline = solve_deadline(started, args.timeout)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    workdir = os.path.join(out_dir, ".extract-work")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    try:
        doc = _extract(args, started, deadline, out_dir, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    enter_stage("writing")
    doc["timing"]["total_s"] = round(time.monotonic() - started, 3)
    result.write_result(args.output, doc)
    log("done: %s in %.2fs" % ("solved" if doc["solved"] else "not solved", doc["timing"]["total_s"]))


def _extract(args, started, deadline, out_dir, workdir):
    enter_stage("reading")
    image = read_image(args.image)
    info = image.info()
    log("image %s: %s %dx%d, %d-bit" % (info["file"], image.format, image.width, image.height, image.bits))
    meta = metadata.read_metadata(image)

    enter_stage("detecting_stars")
    detections = _Detections(image, workdir, stars.choose_downsample(image.width, image.height, args.downsample))
    star_info = detections.summary(0)

    user = (args.scale_low, args.scale_high, args.scale_units) if args.scale_low is not None else None
    attempts, hints = plan.make_plan(image.width, image.height, user=user, meta=meta)
    solver_info = {"engine": "astrometry.net solve-field", "version": solver.solver_version(), "index": None}
    timing = {"total_s": None, "solve_s": 0.0, "attempts": 0}
    outcome = None
    if star_info["used"] >= MIN_STARS:
        enter_stage("solving")
        outcome, timing["solve_s"], timing["attempts"] = _search(detections, image, attempts, deadline, workdir)
    else:
        log("too few stars (%d) to solve" % star_info["used"])
    if outcome is None:
        return result.assemble(info, meta, hints, star_info, None, {}, solver_info, timing)
    enter_stage("annotating")
    solution, files = _describe(outcome, image, out_dir, workdir)
    star_info = dict(detections.summary(outcome.detection), matched=outcome.matched)
    solver_info["index"] = outcome.index
    hints["solved_with"] = outcome.attempt_label
    return result.assemble(info, meta, hints, star_info, solution, files, solver_info, timing)


def _describe(outcome, image, out_dir, workdir):
    """Keep the WCS and say what it means: (solution, files)."""
    wcs_path = os.path.join(out_dir, "wcs.fits")
    shutil.copyfile(outcome.wcs_path, wcs_path)
    files = {"wcs": "wcs.fits"}
    names, annotations = annotate.objects(wcs_path)
    solution = {"calibration": annotate.calibration(wcs_path),
                "objects_in_field": names, "annotations": annotations}
    if annotate.annotated_png(image, wcs_path, os.path.join(out_dir, "annotated.png"), workdir):
        files["annotated"] = "annotated.png"
    return solution, files


class _Detections:
    """Star lists per downsample factor (best first), detected on first use."""

    def __init__(self, image, workdir, factors):
        self.image, self.workdir, self.factors = image, workdir, factors
        self._done = {}

    def get(self, which):
        """(factor, stars found, stars ordered for the solver, xylist path)."""
        factor = self.factors[min(which, len(self.factors) - 1)]
        if factor not in self._done:
            found = stars.detect_stars(self.image, self.workdir, factor)
            ordered = stars.solver_order(found)
            log("detected %d stars (downsample %d)" % (len(found), factor))
            path = os.path.join(self.workdir, "stars-%d.xy.fits" % factor)
            stars.write_xylist(ordered, path, self.image.width, self.image.height)
            self._done[factor] = (factor, found, ordered, path)
        return self._done[factor]

    def summary(self, which):
        factor, found, ordered, _ = self.get(which)
        return {"detected": int(len(found)), "matched": 0, "used": int(len(ordered)),
                "downsample": factor}


def _search(detections, image, attempts, deadline, workdir):
    """Run attempts in order until one solves: (outcome or None, seconds, count)."""
    indexes = solver.list_indexes()
    spent, tried = 0.0, 0
    for attempt in attempts:
        remaining = deadline - time.monotonic()
        if remaining < 0.5:
            log("search stopped: job deadline reached")
            break
        _, _, ordered, xylist = detections.get(attempt.detection)
        if len(ordered) < MIN_STARS:
            continue
        attempt.budget_s = min(attempt.budget_s, remaining)
        outcome = solver.run_attempt(xylist, image.width, image.height, attempt, workdir, indexes)
        spent += outcome.seconds
        tried += 1
        if outcome.solved:
            outcome.attempt_label = attempt.label
            outcome.detection = attempt.detection
            return outcome, round(spent, 3), tried
    return None, round(spent, 3), tried


def _on_term(signum, frame):
    solver.kill_running()
    sys.exit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    try:
        run(args)
    except UnreadableImage as exc:
        print("astro-extract: %s" % exc, file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the runner's error message
        import traceback
        traceback.print_exc(file=sys.stderr)
        print("astro-extract: internal error: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
