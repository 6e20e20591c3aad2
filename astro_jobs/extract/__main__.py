"""astro-extract: plate-solve one sky image (or a list of its stars) offline and write result.json.

    astro-extract --image IMG --output OUT/result.json
        [--scale-low F --scale-high F --scale-units degwidth|arcminwidth|arcsecperpix]
        [--downsample N] [--timeout S] [--search-limit S] [--width W --height H]
        [--ra DEG --dec DEG [--radius DEG]]
        [--sequence-ra DEG --sequence-dec DEG --sequence-pixscale ARCSEC]

IMG may be a source list instead of a picture (.xyls/.fits table with X, Y
[, FLUX], or .csv with x,y[,flux]); then --width and --height give the
image size. Exit 0 with a JSON object at --output whenever the file is an
image or a list, solved or not; exit 2 when it is neither, 3 when it ran
out of memory (the runner's limit, ASTRO_JOBS_MAX_MEMORY_MB), 1 on internal
failure.
"""
import argparse
import os
import shutil
import signal
import sys
import time

from ..intake.units import DEFAULT_SCALE_UNITS, DEFAULT_TIMEOUT, SCALE_UNITS
from . import (
    EXIT_OUT_OF_MEMORY,
    EXIT_UNREADABLE,
    annotate,
    indexes,
    metadata,
    plan,
    result,
    solver,
    sources,
    stars,
)
from .image import UnreadableImage, read_image
from .progress import enter_stage, log
from .search import MIN_STARS, search

# An image with no answer should not hold a worker: the search stops after
# this long unless told otherwise, so the job answers within 10 s (the
# right band solves in well under a second; the crowded test field, the
# slowest, in about 3 s).
DEFAULT_SEARCH_LIMIT = 8.0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="astro-extract", description=__doc__.split("\n")[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--scale-low", type=float)
    parser.add_argument("--scale-high", type=float)
    parser.add_argument("--scale-units", default=DEFAULT_SCALE_UNITS,
                        choices=SCALE_UNITS + ("focalmm",))
    parser.add_argument("--downsample", type=int)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--search-limit", type=float, default=DEFAULT_SEARCH_LIMIT)
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--ra", type=float)
    parser.add_argument("--dec", type=float)
    parser.add_argument("--radius", type=float, default=2.0)
    for name in ("ra", "dec", "pixscale"):
        parser.add_argument("--sequence-" + name, type=float)
    args = parser.parse_args(argv)
    _check_pointing(parser, args)
    if (args.scale_low is None) != (args.scale_high is None):
        parser.error("--scale-low and --scale-high go together")
    if args.scale_low is not None and not 0 < args.scale_low < args.scale_high:
        parser.error("need 0 < --scale-low < --scale-high")
    if args.timeout <= 0 or args.search_limit <= 0:
        parser.error("--timeout and --search-limit must be positive")
    if (args.width is None) != (args.height is None) or min(args.width or 1, args.height or 1) < 1:
        parser.error("--width and --height go together and are positive")
    return args


def _check_pointing(parser, args):
    if (args.ra is None) != (args.dec is None):
        parser.error("--ra and --dec go together")
    if args.ra is not None and not (-90 <= args.dec <= 90 and 0 < args.radius <= 180):
        parser.error("need -90 <= --dec <= 90 and 0 < --radius <= 180")
    sequence = (args.sequence_ra, args.sequence_dec, args.sequence_pixscale)
    if None in sequence and any(v is not None for v in sequence):
        parser.error("--sequence-ra, --sequence-dec and --sequence-pixscale go together")
    if args.sequence_pixscale is not None and args.sequence_pixscale <= 0:
        parser.error("--sequence-pixscale must be positive")


def solve_deadline(started, timeout, search_limit):
    """(when to stop searching, the reason if the search is cut there).

    The runner kills us at `timeout`, and annotating plus writing need a
    few seconds after the last attempt; without an answer by
    `search_limit` there is none to find in reasonable time.
    """
    margin = min(max(3.0, 0.1 * timeout), 30.0)
    job_bound = max(1.0, timeout - margin)
    if job_bound < search_limit:
        return started + job_bound, "timeout"
    return started + search_limit, "no_match_in_scale_range"


def run(args):
    started = time.monotonic()
    deadline = solve_deadline(started, args.timeout, args.search_limit)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    workdir = os.path.join(out_dir, ".extract-work")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    try:
        doc = _extract(args, deadline, out_dir, workdir)
    finally:
        solver.kill_running()
        shutil.rmtree(workdir, ignore_errors=True)
    enter_stage("writing")
    doc["timing"]["total_s"] = round(time.monotonic() - started, 3)
    result.write_result(args.output, doc)
    log("done: %s in %.2fs" % ("solved" if doc["solved"] else "not solved (%s)" % doc["reason"],
                               doc["timing"]["total_s"]))


def _read_input(args, workdir):
    """(image or source list, its star lists)."""
    if sources.is_source_list(args.image):
        listed = sources.read_source_list(args.image, args.width, args.height)
        ordered = sources.solver_order(listed.stars, listed.has_flux)
        return listed, stars.StarLists(listed, [1], given=(listed.stars, ordered))
    image = read_image(args.image)
    factors = stars.choose_downsample(image.width, image.height, args.downsample)
    return image, stars.StarLists(image, factors)


def _extract(args, deadline, out_dir, workdir):
    enter_stage("reading")
    image, star_lists = _read_input(args, workdir)
    info = image.info()
    log("input %s: %s %dx%d" % (info["file"], image.format, image.width, image.height))
    pending = metadata.Pending(image)
    installed = indexes.installed()
    enter_stage("detecting_stars")
    star_info = star_lists.summary(0)
    meta = pending.result()
    user = None
    if args.scale_low is not None:
        user = (args.scale_low, args.scale_high, args.scale_units)
    rounds, hints = plan.make_plan(image.width, image.height, installed.width_range_deg,
                                   user=user, meta=meta, **_pointing(args))
    solver_info = {"engine": "astrometry.net solve-field", "version": solver.solver_version(),
                   "index": None}
    found = None
    if star_info["used"] >= MIN_STARS:
        enter_stage("solving")
        found = search(rounds, star_lists, image.width, image.height, workdir,
                       installed.indexes, *deadline)
    timing = {"total_s": None, "solve_s": round(found.solve_s, 3) if found else 0.0,
              "attempts": found.attempts if found else 0}
    if found is None or found.winner is None:
        why = result.why_unsolved(found, star_info, installed, plan.field_width_deg(
            image.width, user, meta), hints, star_lists.used_so_far())
        log("not solved: %s" % why["explanation"])
        return result.assemble(info, meta, hints, star_info, None, {}, solver_info, timing, why)
    enter_stage("annotating")
    outcome = found.winner
    solution, files = annotate.describe(outcome, image, out_dir, workdir,
                                        pixels=image.format not in ("xyls", "csv"))
    if image.format == "FITS":
        files["new_fits"] = _new_fits(args.image, out_dir)
    star_info = dict(star_lists.summary(outcome.attempt.detection, outcome.attempt.max_stars),
                     matched=outcome.matched)
    solver_info["index"] = outcome.index
    hints["solved_with"] = outcome.attempt.label
    return result.assemble(info, meta, hints, star_info, solution, files, solver_info, timing)


def _pointing(args):
    """make_plan's ``pointing`` and ``sequence`` from the command line."""
    return {"pointing": None if args.ra is None else (args.ra % 360.0, args.dec, args.radius),
            "sequence": None if args.sequence_ra is None else (
                args.sequence_ra % 360.0, args.sequence_dec, args.sequence_pixscale)}


def _new_fits(image_path, out_dir):
    from .newfits import NAME, write_new_fits

    write_new_fits(image_path, os.path.join(out_dir, "wcs.fits"), os.path.join(out_dir, NAME))
    return NAME


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
        return EXIT_UNREADABLE
    except MemoryError:
        # The address-space limit was hit: the failed allocation is gone, so
        # one line can still be written; the runner turns the code into a sentence.
        solver.kill_running()
        print("astro-extract: out of memory: this image needs more than the memory limit",
              file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    except Exception as exc:  # one line for the runner's error message
        import traceback
        traceback.print_exc(file=sys.stderr)
        print("astro-extract: internal error: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
