"""What the operator page shows, as plain data.

One dict renders the page's HTML and answers ``/page.json`` (which the page
polls to update itself), so the two never disagree. Filters are outcomes,
not raw states: a done job is ``solved`` or ``unsolved``.
"""
import functools
import math
import time

from ... import api
from ...errors import AstroJobsError, BadInput
from ...timefmt import iso, parse_iso
from . import charts, skymap
from .thumbnails import PICTURES

PAGE_SIZE = 24
MAX_SEARCH = 200
ALL_JOBS = 10**9
OUTCOMES = ("queued", "processing", "solved", "unsolved", "error", "cancelled")
LABELS = {"processing": "running"}
RETRYABLE = ("unsolved", "error", "cancelled")
CANCELLABLE = ("queued", "processing")
SKY_RECENT = 200


@functools.lru_cache(maxsize=4096)
def _result_solved(job_id, _updated_at):
    """result.json's ``solved`` of a done job (cached: a done job changes only by a
    retry, which changes its ``updated_at``)."""
    try:
        return api.result(job_id).get("solved") is True
    except (AstroJobsError, ValueError, AttributeError):
        return False


def outcome(status):
    """The state, with ``done`` split into ``solved`` and ``unsolved``: the kind of
    present.outcome, from status.json's ``solved`` alone when it has one (a whole
    night of statuses is filtered with it), else from result.json's."""
    if status["state"] != "done":
        return status["state"]
    solved = status.get("solved")
    if solved is None:
        solved = _result_solved(status["job_id"], status.get("updated_at"))
    return "solved" if solved else "unsolved"


def query(params):
    """The page's filter from its query string: (outcome or None, search text, page)."""
    state = params.get("state") or None
    if state is not None and state not in OUTCOMES:
        raise BadInput(f"no filter {state[:40]!r}: use one of {', '.join(OUTCOMES)}",
                       code="invalid_filter")
    search = (params.get("q") or "").strip()[:MAX_SEARCH]
    try:
        page = max(1, min(int(params.get("page") or 1), 10**6))
    except ValueError:
        raise BadInput("page must be a whole number", code="invalid_page") from None
    return state, search, page


def absolute(stamp):
    """``2026-12-03 03:25:33 UTC`` for an ISO timestamp (the hover text of a time)."""
    return stamp.replace("T", " ").split(".")[0].rstrip("Z") + " UTC" if stamp else ""


def ago(stamp, now):
    """``3 min ago`` for an ISO timestamp, or '' without one."""
    if not stamp:
        return ""
    seconds = max(0.0, now - parse_iso(stamp))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{math.floor(seconds / size)} {unit} ago"
    return "just now" if seconds < 5 else f"{math.floor(seconds)} s ago"


def elapsed(status, now):
    """Seconds the job has run (so far, or in all), or None before it started."""
    if not status.get("started_at"):
        return None
    end = parse_iso(status["finished_at"]) if status.get("finished_at") else now
    return max(0.0, end - parse_iso(status["started_at"]))


def consumer(status):
    worker = api.worker_of(status)
    return f"{worker.get('node')} pid {worker.get('pid')}" if worker else ""


def row(status, now, result=None):
    """One job as a card or a table row shows it."""
    kind = outcome(status)
    info = status.get("input") or {}
    stamp = status.get("finished_at") or status.get("created_at")
    files = (result or {}).get("files") or {}
    return {"job_id": status["job_id"], "short_id": status["job_id"][:8],
            "file": info.get("file"), "state": status["state"], "outcome": kind,
            "stage": status.get("stage"), "elapsed": elapsed(status, now),
            "consumer": consumer(status), "attempts": status.get("attempts", 1),
            "created": status.get("created_at"), "when": stamp, "ago": ago(stamp, now),
            "when_title": absolute(stamp),
            "error": status.get("error"), "explanation": (result or {}).get("explanation"),
            "annotated": "annotated" in files,
            "picture": "annotated" in files or str(info.get("format", "")).lower() in PICTURES,
            "retry": kind in RETRYABLE, "cancel": kind in CANCELLABLE}


def _matches(status, state, search):
    name = ((status.get("input") or {}).get("file") or "").lower()
    return (not search or search.lower() in name) and \
        (state is None or outcome(status) == state)


def _result(status):
    if status["state"] != "done":
        return None
    try:
        return api.result(status["job_id"])
    except (AstroJobsError, ValueError):
        return None


def jobs_page(statuses, state, search, page, now):
    """The jobs the filter keeps, one page of them: (rows, paging)."""
    kept = [s for s in statuses if _matches(s, state, search)]
    pages = max(1, math.ceil(len(kept) / PAGE_SIZE))
    page = min(page, pages)
    shown = kept[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    return [row(s, now, _result(s)) for s in shown], {
        "state": state, "q": search, "page": page, "pages": pages, "matching": len(kept),
        "page_size": PAGE_SIZE}


def counts(stats):
    """Jobs by outcome, from the stats index (``api.stats()``)."""
    jobs, done = stats["jobs"], stats.get("done") or {}
    found = {name: jobs.get(name, 0) if name in jobs else done.get(name, 0)
             for name in OUTCOMES}
    return dict(found, total=sum(found.values()))


def consumers_panel(stats, shown_ids):
    """The consumer registry as the page shows it, with a warning when none is alive;
    of the jobs each runs, only those in ``shown_ids`` (the reader's)."""
    found = stats.get("consumers") or []
    now = time.time()
    shown = [{"node": c.get("node"), "pid": c.get("pid"), "workers": c.get("workers"),
              "running": [j for j in c.get("running") or [] if j in shown_ids],
              "alive": c["alive"],
              "last_seen": c.get("last_seen"), "ago": ago(c.get("last_seen"), now),
              "when_title": absolute(c.get("last_seen"))} for c in found]
    alive = sum(1 for c in shown if c["alive"])
    warning = None if alive else ("No consumer is alive: queued jobs will wait until one "
                                  "starts (the Procfile's worker or the systemd unit).")
    return {"alive": alive, "consumers": shown, "warning": warning}


def build(params, visible=list):
    """Everything the operator page shows for the query string ``params``, of the
    jobs ``visible(statuses)`` keeps (privacy.shown: the reader's)."""
    state, search, page = query(params)
    now = time.time()
    statuses = visible(api.list_jobs(limit=ALL_JOBS))
    rows, paging = jobs_page(statuses, state, search, page, now)
    activity, stats = api.activity(), api.stats(now)
    return {
        "generated_at": iso(now),
        "counts": counts(stats),
        "filter": paging,
        "jobs": rows,
        "running": [row(s, now) for s in statuses if s["state"] == "processing"],
        "consumers": consumers_panel(stats, {s["job_id"] for s in statuses}),
        "activity": activity,
        "chart": charts.jobs_per_hour(activity),
        "sky": skymap.fields(_solved_recent(statuses)),
    }


def _solved_recent(statuses):
    """(status, result) of the most recent solved jobs, for the sky map."""
    solved = [s for s in statuses if outcome(s) == "solved"][:SKY_RECENT]
    found = ((s, _calibration(s["job_id"], s.get("updated_at"))) for s in solved)
    return [(status, {"calibration": cal}) for status, cal in found if cal]


@functools.lru_cache(maxsize=SKY_RECENT * 2)
def _calibration(job_id, _updated_at):
    """A solved job's calibration (cached: it changes only with ``updated_at``)."""
    try:
        return api.result(job_id).get("calibration")
    except (AstroJobsError, ValueError, AttributeError):
        return None
