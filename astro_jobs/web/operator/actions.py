"""What the operator page changes: cancel and retry, one job or many.

POST only, from this site only (the Origin check of pages.check_change),
and by a logged-in browser when an API key is set. A bulk action goes job by
job: one refused job (already done, not found) does not stop the others.
"""
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse

from ... import api
from ...errors import AstroJobsError, BadInput
from . import pages

MAX_BODY = 64 * 1024
MAX_JOBS = 500
ACTIONS = {"retry": api.retry, "cancel": api.cancel}


async def _body_pairs(request):
    """The urlencoded form's (name, value) pairs, bounded."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadInput(f"the form is over {MAX_BODY // 1024} KB", code="form_too_large")
    try:
        return parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the form is not a UTF-8 urlencoded form", code="bad_form") from None


def _back(value):
    """Where to go after a bulk action: a path of this page, never another site."""
    parts = urlsplit(value or "/")
    if parts.scheme or parts.netloc or parts.path != "/":
        return "/"
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"]
    return "/" + (f"?{urlencode(kept)}" if kept else "")


def apply(action, job_ids):
    """Do ``action`` to each job: (ids changed, {id: refusal code})."""
    changed, refused = [], {}
    for job_id in job_ids:
        try:
            ACTIONS[action](job_id)
            changed.append(job_id)
        except AstroJobsError as exc:
            refused[job_id] = exc.code
    return changed, refused


def _one(action):
    async def endpoint(request):
        pages.check_change(request)
        job_id = request.path_params["job_id"]
        await run_in_threadpool(ACTIONS[action], job_id)
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)
    endpoint.__name__ = action
    return endpoint


cancel, retry = _one("cancel"), _one("retry")


async def bulk(request):
    """``POST /jobs/bulk``: ``action`` (retry or cancel) on every ``job`` given."""
    pages.check_change(request)
    pairs = await _body_pairs(request)
    action = next((v for k, v in pairs if k == "action"), None)
    if action not in ACTIONS:
        raise BadInput("action must be retry or cancel", code="invalid_action")
    job_ids = list(dict.fromkeys(v for k, v in pairs if k == "job"))
    if not job_ids or len(job_ids) > MAX_JOBS:
        raise BadInput(f"choose between 1 and {MAX_JOBS} jobs", code="no_jobs")
    changed, refused = await run_in_threadpool(apply, action, job_ids)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"action": action, "changed": changed, "refused": refused})
    back = _back(next((v for k, v in pairs if k == "back"), None))
    notice = urlencode({"done": f"{action}: {len(changed)} changed, {len(refused)} refused"})
    return RedirectResponse(back + ("&" if "?" in back else "?") + notice, status_code=303)
