"""The ASGI application of ``astro-jobs serve``: routes and error replies.

Every nova path answers with and without a trailing slash, to GET and POST
(nova's own client.py POSTs even its status queries).
"""
import logging
from pathlib import Path

from starlette import convertors
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import AstroJobsError, BadInput, JobNotFound, NotReady
from . import files, guard, headers, privacy
from .nova import api as novaapi
from .nova import uploads
from .nova.ids import IdMap
from .nova.reply import json_reply
from .operator import actions, pages
from .throttle import Throttled

logger = logging.getLogger("astro_jobs.web")
BOTH = ["GET", "POST"]
JOB = "/api/jobs/{number:novaid}"


STATIC = Path(__file__).parent / "operator" / "static"


def _nova(path, endpoint):
    return [Route(path, endpoint, methods=BOTH), Route(path + "/", endpoint, methods=BOTH)]


class NovaId(convertors.IntegerConvertor):
    """nova's integer ids, at most as long as SQLite's largest integer: a longer
    path is not one of ours (a 404), never an int() of thousands of digits."""

    regex = "[0-9]{1,19}"


def routes():
    convertors.register_url_convertor("novaid", NovaId())
    table = [
        ("/api/login", novaapi.login), ("/api/upload", novaapi.upload),
        ("/api/url_upload", novaapi.url_upload), ("/api/myjobs", novaapi.myjobs),
        ("/api/submission_images", novaapi.submission_images),
        ("/api/submissions/{number:novaid}", novaapi.submission_status),
        (JOB, novaapi.job_status), (JOB + "/calibration", novaapi.calibration),
        (JOB + "/info", novaapi.info), (JOB + "/objects_in_field", novaapi.objects_in_field),
        (JOB + "/annotations", novaapi.annotations), (JOB + "/tags", novaapi.tags),
        (JOB + "/machine_tags", novaapi.tags),
        ("/wcs_file/{number:novaid}", files.nova_file("wcs")),
        ("/new_fits_file/{number:novaid}", files.nova_file("new_fits")),
        ("/rdls_file/{number:novaid}", files.nova_file("rdls")),
        ("/axy_file/{number:novaid}", files.nova_file("axy")),
        ("/corr_file/{number:novaid}", files.nova_file("corr")),
        ("/kml_file/{number:novaid}", files.kml_file),
        ("/annotated_display/{number:novaid}", files.nova_file("annotated")),
        ("/annotated_full/{number:novaid}", files.nova_file("annotated")),
        ("/joblog/{number:novaid}", files.nova_file("log")),
    ]
    nova = [route for path, endpoint in table for route in _nova(path, endpoint)]
    return nova + [
        Route("/", pages.dashboard),
        Route("/page.json", pages.page_json),
        Route("/jobs/bulk", actions.bulk, methods=["POST"]),
        Route("/jobs/{job_id}", pages.job_page),
        Route("/jobs/{job_id}/files/{kind}", files.job_file),
        Route("/jobs/{job_id}/cancel", actions.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/retry", actions.retry, methods=["POST"]),
        Route("/submit", pages.submit, methods=["POST"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _page_path(request):
    """The operator page's paths (nova's answer refusals with HTTP 200; these with 4xx)."""
    path = request.url.path
    return path in ("/", "/page.json") or \
        path.startswith(("/jobs/", "/submit", "/login", "/logout"))


def _wants_html(request):
    return _page_path(request) and request.url.path != "/page.json" \
        and "application/json" not in request.headers.get("accept", "")


def _reply(request, message, http_status, code):
    if _wants_html(request):
        page = f"<!doctype html><meta name=viewport content='width=device-width'>" \
               f"<title>{http_status}</title><p>{_escape(message)}</p><p><a href='/'>back</a>"
        return HTMLResponse(page, status_code=http_status)
    # nova's two fields, plus our code (clients read only the first two).
    return json_reply({"status": "error", "errormessage": message, "code": code},
                      status_code=http_status)


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def http_status_of(exc):
    if isinstance(exc, (JobNotFound, NotReady)):
        return 404
    if isinstance(exc, uploads.TooLarge):
        return 413
    if isinstance(exc, uploads.Busy):
        return 503
    if isinstance(exc, pages.Forbidden):
        return 403
    if isinstance(exc, Throttled):
        return 429
    # nova answers a refused request with HTTP 200 and status "error"; pages say 400.
    return 200 if isinstance(exc, BadInput) else 500


async def on_astro_jobs_error(request, exc):
    http_status = http_status_of(exc)
    if http_status == 200 and _page_path(request):
        http_status = 400
    reply = _reply(request, exc.message, http_status, exc.code)
    if "retry_after" in exc.details:
        reply.headers["Retry-After"] = str(exc.details["retry_after"])
    return reply


async def on_http_error(request, exc):
    return _reply(request, exc.detail, exc.status_code, "http_error")


async def on_internal_error(request, exc):
    logger.exception("internal error on %s", request.url.path)
    return _reply(request, f"internal error: {exc.__class__.__name__}", 500, "internal_error")


def create_app(server_names=()):
    """The app; ``server_names``: the names it listens on, besides localhost."""
    middleware = [Middleware(headers.SecurityHeaders),
                  Middleware(guard.Guard, server_names=server_names),
                  Middleware(privacy.Readers)]
    app = Starlette(routes=routes(), middleware=middleware, exception_handlers={
        AstroJobsError: on_astro_jobs_error, HTTPException: on_http_error,
        Exception: on_internal_error})
    app.router.redirect_slashes = False
    app.state.ids = IdMap()
    return app
