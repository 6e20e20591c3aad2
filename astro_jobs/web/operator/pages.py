"""The operator page: the queue at a glance, one page per job, cancel.

Plain server-rendered HTML. Anyone who reaches the server may look; with
ASTRO_JOBS_API_KEY set, only a browser logged in with that key may submit
or cancel.
"""
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse
from starlette.templating import Jinja2Templates

from ... import api
from ...errors import BadInput
from .. import auth, present
from ..nova import uploads

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
RECENT = 24
LOG_LINES = 200
ALL_JOBS = 10**9


class Forbidden(BadInput):
    code = "forbidden"


def _when(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None


def elapsed(status):
    """Seconds the job has run (so far, or in all), or None before it started."""
    started = _when(status.get("started_at"))
    if started is None:
        return None
    end = _when(status.get("finished_at")) or datetime.now(timezone.utc)
    return max(0.0, (end - started).total_seconds())


def consumer(status):
    worker = status.get("worker") or {}
    return f"{worker.get('node')} pid {worker.get('pid')}" if worker else ""


def row(status):
    result = present.done_result(status)
    files = (result or {}).get("files") or {}
    return {"job_id": status["job_id"], "state": status["state"], "stage": status.get("stage"),
            "elapsed": elapsed(status), "consumer": consumer(status),
            "created": status["created_at"], "file": (status.get("input") or {}).get("file"),
            "solved": (result or {}).get("solved"), "thumbnail": "annotated" in files}


def _context(request, **extra):
    session = request.cookies.get(auth.COOKIE)
    return {"can_change": auth.may_change(session), "key_set": auth.needs_login(),
            "logged_in": auth.valid_session(session) and auth.needs_login(),
            "states": [s.value for s in api.State], **extra}


def dashboard(request):
    jobs = api.list_jobs(limit=ALL_JOBS)
    counts = Counter(s["state"] for s in jobs)
    running = [row(s) for s in jobs if s["state"] == api.State.PROCESSING]
    recent = [row(s) for s in jobs[:RECENT]]
    return templates.TemplateResponse(request, "index.html", _context(
        request, counts=counts, running=running, recent=recent, total=len(jobs)))


def job_page(request):
    status = api.status(request.path_params["job_id"])
    result = present.done_result(status)
    return templates.TemplateResponse(request, "job.html", _context(
        request, job=row(status), status=status, result=result,
        status_json=json.dumps(status, indent=1),
        result_json=json.dumps(result, indent=1) if result is not None else None,
        log=api.logs(status["job_id"], LOG_LINES),
        files=sorted(((result or {}).get("files") or {}).items()),
        terminal=status["state"] in (api.State.DONE, api.State.ERROR, api.State.CANCELLED)))


def _check_change(request):
    """Page POSTs: from this site only, and by a logged-in browser when a key is set."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("cross-site request refused")
    if not auth.may_change(request.cookies.get(auth.COOKIE)):
        raise Forbidden("log in with the API key to change jobs")


async def cancel(request):
    _check_change(request)
    job_id = request.path_params["job_id"]
    await run_in_threadpool(api.cancel, job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


async def submit(request):
    _check_change(request)
    form = await uploads.read_form(request)
    try:
        if form.file_path is None:
            raise BadInput("choose an image to submit", code="no_file")
        options = {k: form.fields.get(k) or None
                   for k in ("scale_low", "scale_high", "scale_units")}
        job_id = await run_in_threadpool(api.submit, form.file_path, **options)
    finally:
        form.cleanup()
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


async def login(request):
    form = await uploads.read_form(request)
    form.cleanup()
    session = auth.login(form.fields.get("apikey"))
    response = RedirectResponse("/" if session else "/?login=failed", status_code=303)
    if session:
        response.set_cookie(auth.COOKIE, session, httponly=True, samesite="strict")
    return response


async def logout(request):
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response
