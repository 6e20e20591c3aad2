"""The result document: assembled in one place, written atomically."""
import json

from ..store.atomic import write_atomically
from .search import MIN_STARS


def assemble(image_info, meta, hints, stars, solution, files, solver, timing, why=None):
    result = {
        "solved": solution is not None,
        "reason": None,
        "explanation": None,
        "image": image_info,
        "exif": meta.exif,
        "calibration": None,
        "objects_in_field": [],
        "annotations": [],
        "stars": stars,
        "hints": hints,
        "files": files,
        "solver": solver,
        "timing": timing,
    }
    if why is not None:
        result.update(why)
    if solution is not None:
        result["calibration"] = solution["calibration"]
        result["objects_in_field"] = solution["objects_in_field"]
        result["annotations"] = solution["annotations"]
    return result


def why_unsolved(found, stars, installed, width_hint, hints, used):
    """{"reason": code, "explanation": a sentence} for an image that did not solve.

    `used`: {binning factor: stars given to the solver} of every list tried.
    """
    span = installed.width_range_deg
    if span is None:
        return _why("no_index_files", "No astrometry.net index files are installed (see "
                    "scripts/install-deps.sh), so nothing can be solved.")
    if found is None:
        return _why("too_few_stars", "Only %d stars were found; at least %d are needed to match "
                    "the sky." % (stars["used"], MIN_STARS))
    sentences = []
    if found.reason == "timeout":
        sentences.append("The search ran out of time (--timeout or --search-limit) before every "
                         "scale band had been tried.")
    else:
        sentences.append("No field between %g and %g degrees wide matched the %s."
                         % (span[0], span[1], _stars_tried(used)))
    if found.rejected:
        sentences.append("Candidate matches were rejected as unverified (%s)." % found.rejected[0])
    if width_hint is not None:
        origin = {"user": "the given scale"}.get(hints.get("source"), "the file's metadata")
        low, high = min(width_hint), max(width_hint)
        if high < span[0]:
            sentences.append("From %s the field is about %.2g degrees wide, narrower than the "
                             "%g degrees the installed index files can solve; index files with "
                             "smaller quads (e.g. the 4200 or 5200 series) would be needed."
                             % (origin, high, span[0]))
        elif low > span[1]:
            sentences.append("From %s the field is about %.3g degrees wide, wider than the %g "
                             "degrees the installed index files can solve."
                             % (origin, low, span[1]))
    return _why(found.reason, " ".join(sentences))


def _stars_tried(used):
    if len(used) == 1:
        return "%d stars found" % next(iter(used.values()))
    return "stars found (%s)" % ", ".join(
        "%d binned %d" % (count, factor) for factor, count in used.items())


def _why(reason, explanation):
    return {"reason": reason, "explanation": explanation}


def write_result(path, result):
    # Not fsynced here: the runner fsyncs result.json before it records done.
    write_atomically(path, (json.dumps(result, indent=2, ensure_ascii=False) + "\n").encode(),
                     durable=False)
