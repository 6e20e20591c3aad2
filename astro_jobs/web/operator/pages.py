"""The operator page: the queue at a glance, one page per job, submit.

Plain server-rendered HTML. Anyone who reaches the server may look; with
ASTRO_JOBS_API_KEY set, only a browser logged in with that key may submit
or cancel.
"""
import json
import time
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from ... import api, config
from ...errors import BadInput
from .. import auth, guard, present, privacy
from ..files import KINDS as FILE_KINDS
from ..nova import uploads
from . import board, skymap

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LOG_LINES = 200
# The page's sections that /page.json sends again, each a template of its own.
LIVE = ("counts", "consumers", "running", "jobs", "chart", "sky")


class Forbidden(BadInput):
    code = "forbidden"


def _context(request, **extra):
    session = request.cookies.get(auth.COOKIE)
    return {"can_change": auth.may_change(session), "key_set": auth.needs_login(),
            "logged_in": auth.valid_session(session) and auth.needs_login(),
            "outcomes": board.OUTCOMES, "labels": board.LABELS, **extra}


def _board(request):
    """The board as this reader may see it: private jobs only with a session."""
    who = privacy.reader(request)
    data = board.build(request.query_params, lambda statuses: privacy.shown(statuses, who))
    data["notice"] = (request.query_params.get("done") or "")[:200]
    return privacy.redact(data, who)


def _back(request):
    """This page's address without a bulk action's notice: where the next one returns."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "done"]
    return "/" + ("?" + urlencode(kept) if kept else "")


def dashboard(request):
    data = _board(request)
    return templates.TemplateResponse(request, "index.html", _context(
        request, board=data, grid=skymap.grid(), back=_back(request)))


def page_json(request):
    """The dashboard's data and its live sections' HTML, for page.js to swap in."""
    data = _board(request)
    context = _context(request, board=data, grid=skymap.grid())
    html = {name: templates.get_template(f"_{name}.html").render(context) for name in LIVE}
    return JSONResponse(dict(data, html=html))


def job_page(request):
    who = privacy.reader(request)
    status = privacy.require_visible(api.status(request.path_params["job_id"]), who)
    result = present.done_result(status)
    status, result = privacy.redact(status, who), privacy.redact(result, who)
    files = (result or {}).get("files") or {}
    cal = (result or {}).get("calibration") or {}
    return templates.TemplateResponse(request, "job.html", _context(
        request, job=board.row(status, time.time(), result), status=status, result=result,
        outcome=present.outcome(status, result),
        status_json=json.dumps(status, indent=1),
        result_json=json.dumps(result, indent=1) if result is not None else None,
        log=privacy.redact(api.logs(status["job_id"], LOG_LINES), who), status_files=files,
        files=sorted(files.items()),
        linked=tuple(FILE_KINDS), has_grid="annotated_grid" in files,
        grid="annotated_grid" in files and request.query_params.get("grid") == "1",
        created_ago=board.ago(status.get("created_at"), time.time()),
        viewers=skymap.viewers(cal) if result and result.get("solved") else [],
        terminal=status["state"] in (api.State.DONE, api.State.ERROR, api.State.CANCELLED)))


def check_change(request):
    """Page POSTs: from this site only, and by a logged-in browser when a key is set."""
    origin = request.headers.get("origin")
    if origin and not guard.same_site(origin, request.headers.get("host")):
        raise Forbidden("cross-site request refused")
    if not privacy.reader(request).trusted:
        raise Forbidden("log in with the API key to change jobs")


async def submit(request):
    check_change(request)
    async with uploads.SLOTS:
        return await _receive(request)


async def _receive(request):
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
    address = request.client.host if request.client else None
    session = await run_in_threadpool(auth.login, form.fields.get("apikey"), address)
    response = RedirectResponse("/" if session else "/?login=failed", status_code=303)
    if session:
        # Secure under HTTPS (uvicorn's, or a proxy's X-Forwarded-Proto it trusts).
        response.set_cookie(auth.COOKIE, session, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https",
                            max_age=int(config.session_ttl_seconds()))
    return response


async def logout(request):
    await run_in_threadpool(auth.logout, request.cookies.get(auth.COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(auth.COOKIE, secure=request.url.scheme == "https",
                           httponly=True, samesite="strict")
    return response
