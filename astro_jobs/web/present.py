"""A job as nova.astrometry.net's API shows it.

nova separates submissions, user images, jobs and calibrations; here one job
is all four, so a submission's id, its job's id and its calibration's id are
the same integer.
"""
import math

from .. import api
from ..errors import AstroJobsError
from ..intake import fitsheader
from ..timefmt import utc_datetime

# nova's Image.is_jpeglike(): pictures whose rows run top-down; their
# orientation is flipped up/down against a FITS file's.
JPEG_LIKE = ("jpeg", "png", "gif")
WCS_HEADER_BYTES = 64 * 2880
# nova names the submitting user by id; here there is one, the key's holder.
LOCAL_USER = 1


def nova_time(iso):
    """An ISO timestamp as nova prints one (``2021-06-29 06:24:01.873119``, UTC
    without a zone), or ``"None"``: clients parse it with that format."""
    if not iso:
        return "None"
    return utc_datetime(iso).strftime("%Y-%m-%d %H:%M:%S.%f")


def done_result(status):
    """The result of a done job, or None."""
    if status["state"] != api.State.DONE:
        return None
    try:
        return api.result(status["job_id"])
    except (AstroJobsError, ValueError):
        return None


def outcome(status, result=None):
    """What a job came to, for a person: ``{"kind", "headline", "code"}``.

    ``kind``: queued, processing, solved, unsolved, error or cancelled; a
    done job without a solution is ``unsolved``, never plain done. The
    headline is the sentence to show first (for an unsolved job the
    extractor's explanation); ``code`` the machine's word for it, or None.
    ``result``: the job's result if already read (``done_result``).
    """
    state = status["state"]
    if state == api.State.DONE:
        result = result if result is not None else done_result(status)
        return _done_outcome(status, result or {})
    if state in (api.State.ERROR, api.State.CANCELLED):
        headline = status.get("error") or f"The job was {state}."
        return {"kind": str(state), "headline": headline, "code": None}
    headline = "Waiting for a consumer." if state == api.State.QUEUED else \
        f"Running: {status.get('stage') or 'starting'}."
    return {"kind": str(state), "headline": headline, "code": None}


def _done_outcome(status, result):
    solved = result.get("solved") if "solved" in result else status.get("solved")
    if solved:
        cal = result.get("calibration") or {}
        where = f" at RA {cal['ra_hms']}, Dec {cal['dec_dms']}" \
            if cal.get("ra_hms") and cal.get("dec_dms") else ""
        return {"kind": "solved", "headline": f"Solved{where}.", "code": None}
    explanation = result.get("explanation")
    return {"kind": "unsolved",
            "headline": explanation if isinstance(explanation, str) and explanation
            else "Not solved: " + api.NO_EXPLANATION + ".",
            "code": result.get("reason")}


def job_state(status, result):
    """nova's job status (its Job.get_status_blurb): ``processing`` before the job
    starts, ``solving`` while it runs, then ``success`` or ``failure``."""
    if status["state"] == api.State.QUEUED:
        return "processing"
    if status["state"] == api.State.PROCESSING:
        return "solving"
    return "success" if result and result.get("solved") else "failure"


def has_calibration(result):
    return bool(result and result.get("solved") and result.get("calibration"))


def submission(number, status, result):
    solved = has_calibration(result)
    doc = {
        "user": LOCAL_USER,
        # nova marks a submission started when it enters the queue: our submit.
        "processing_started": nova_time(status["created_at"]),
        "processing_finished": nova_time(status.get("finished_at")),
        "user_images": [number],
        "images": [number],
        "jobs": [number],
        "job_calibrations": [[number, number]] if solved else [],
    }
    if status["state"] in (api.State.ERROR, api.State.CANCELLED):
        doc["error_message"] = status.get("error") or f"the job was {status['state']}"
    return doc


def _cd_matrix(status):
    """CD1_1, CD1_2, CD2_1, CD2_2 of the job's WCS file, or None."""
    result = done_result(status) or {}
    head = api.output_head(status["job_id"], (result.get("files") or {}).get("wcs"),
                           WCS_HEADER_BYTES)
    if head is None:
        return None
    cards, _ = fitsheader.parse(head)
    try:
        return tuple(float(cards[k]) for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"))
    except (KeyError, ValueError):
        return None


def orientation_parity(status, calibration):
    """nova's orientation (degrees) and parity (1.0 or -1.0), as its TanWCS computes them."""
    cd = _cd_matrix(status)
    if cd is None:  # no WCS file: from the extractor's words
        parity = 1.0 if calibration.get("parity") == "negative" else -1.0
        orient = calibration.get("orientation_deg")
    else:
        cd11, cd12, cd21, cd22 = cd
        parity = 1.0 if cd11 * cd22 - cd12 * cd21 >= 0 else -1.0
        orient = -math.degrees(math.atan2(parity * cd21 - cd12, parity * cd11 + cd22))
    if orient is not None and (status.get("input") or {}).get("format") in JPEG_LIKE:
        orient = ((180 - orient) + 360) % 360
    return orient, parity


def calibration(status, result):
    """nova's ``/api/jobs/N/calibration``, or None for a job without a solution."""
    if not has_calibration(result):
        return None
    cal = result["calibration"]
    orient, parity = orientation_parity(status, cal)
    width, height = _pixels(status, result)
    pixscale = cal.get("pixscale_arcsec")
    return {"ra": cal.get("ra"), "dec": cal.get("dec"), "radius": cal.get("radius_deg"),
            "pixscale": pixscale, "orientation": orient, "parity": parity,
            "width_arcsec": pixscale * width if pixscale and width else None,
            "height_arcsec": pixscale * height if pixscale and height else None}


def _pixels(status, result):
    image = (result or {}).get("image") or status.get("input") or {}
    return image.get("width"), image.get("height")


def info(status, result):
    """nova's ``/api/jobs/N/info``."""
    doc = {"status": job_state(status, result),
           "objects_in_field": objects_in_field(result),
           "machine_tags": [], "tags": [],
           "original_filename": (status.get("input") or {}).get("file")}
    cal = calibration(status, result)
    if cal is not None:
        doc["calibration"] = {k: cal[k] for k in
                              ("ra", "dec", "radius", "pixscale", "orientation", "parity")}
    return doc


def objects_in_field(result):
    return list((result or {}).get("objects_in_field") or [])


def annotations(result):
    """nova's annotation objects: type, names, pixelx, pixely, radius."""
    out = []
    for item in (result or {}).get("annotations") or []:
        if item.get("x") is None:
            continue  # constellations: named, without a position
        kind = "bright" if item.get("type") == "star" else item.get("type")
        out.append({"type": kind, "names": item.get("names") or [],
                    "pixelx": item.get("x"), "pixely": item.get("y"),
                    "radius": item.get("radius_px") or 0.0})
    return out
