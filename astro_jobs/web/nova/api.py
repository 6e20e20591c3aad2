"""nova.astrometry.net's API (``/api/...``), over the astro-jobs Python API.

Replies are nova's (``reply.py``: JSON as ``text/plain``): ``{"status":
"success", ...}``, or ``{"status": "error", "errormessage": ...}`` with HTTP
200, as nova sends them; unknown ids are a 404 (nova's is Django's HTML
page; ours carries the same JSON error, which a client may show).
"""
import csv
import os
import shutil
import tempfile
from urllib.parse import unquote, urlsplit

from starlette.concurrency import run_in_threadpool

from ... import api, config
from ...errors import JobNotFound
from ...intake.digest import file_digest
from .. import auth, present, privacy
from . import starlists, uploads
from . import wire as nova
from .reply import json_reply
from .wire import NovaError


def success(**fields):
    return json_reply({"status": "success", **fields})


async def _request_args(request):
    """``request-json`` of a request without a file, as a dict."""
    form = await uploads.read_form(request)
    form.cleanup()
    return nova.parse_request_json(form.fields.get("request-json"))


def check_session(args):
    """NovaError unless ``args`` hold a live session (any session, without a key)."""
    if "session" not in args:
        raise NovaError('no "session" in JSON.')
    if not auth.valid_session(args["session"]):
        raise NovaError(f'no session with key "{str(args["session"])[:64]}"')


async def _require_session(args):
    await run_in_threadpool(check_session, args)


def client_address(request):
    return request.client.host if request.client else None


async def login(request):
    args = await _request_args(request)
    if args.get("apikey") is None:
        raise NovaError('need "apikey"')
    session = await run_in_threadpool(auth.login, args["apikey"], client_address(request))
    if session is None:
        raise NovaError("bad apikey")
    return success(message="authenticated user: astro-jobs", session=session)


async def upload(request):
    return await _upload(request, from_url=False)


async def url_upload(request):
    return await _upload(request, from_url=True)


async def _upload(request, from_url):
    async with uploads.SLOTS:
        return await _receive(request, from_url)


def _session_first(fields):
    """Refuse an upload before its file is stored unless request-json, sent before
    the file as nova's clients do, holds a live session."""
    if "request-json" in fields:
        check_session(nova.parse_request_json(fields["request-json"]))
    elif config.api_key() is not None:
        raise NovaError('send "request-json" with the session before the file')


async def _receive(request, from_url):
    form = await uploads.read_form(request, before_file=_session_first)
    try:
        args = nova.parse_request_json(form.fields.get("request-json"))
        await _require_session(args)
        options = nova.submit_params(args)
        if "x" in args and "y" in args:
            job_id, digest = await run_in_threadpool(_submit_xy, args, options)
        elif from_url:
            job_id, digest = await run_in_threadpool(_submit_url, args.get("url"), options)
        elif form.file_path is None:
            raise NovaError('no file: send the image as the multipart part "file"')
        else:
            job_id = await run_in_threadpool(_submit_file, form.file_path, args, options)
            digest = form.sha1.hexdigest()
    finally:
        form.cleanup()
    number = await run_in_threadpool(request.app.state.ids.number, job_id)
    return success(subid=number, hash=digest)


def _submit_file(path, args, options):
    """An uploaded file: a star list (an ``.xyls`` table or a text list) as nova
    takes one, else an image."""
    rows = starlists.text_rows(path)
    if rows is not None:
        return _submit_rows(rows, args, options, "upload.csv")[0]
    if starlists.is_xyls(path):
        size = starlists.image_size(args, lambda: starlists.xyls_extent(path))
        return api.submit_sources(path, *size, **options)
    return api.submit(path, **options)


def _submit_xy(args, options):
    """A job from nova's ``x`` and ``y`` lists."""
    return _submit_rows(nova.source_list(args), args, options, "json-xy.csv")


def _submit_rows(rows, args, options, name):
    """(job id, SHA-1) of star rows written as CSV and solved as a star list."""
    width, height = starlists.image_size(args, lambda: (max(r[0] for r in rows),
                                                        max(r[1] for r in rows)))
    folder = tempfile.mkdtemp(prefix="astro-jobs-xy-")
    try:
        path = os.path.join(folder, name)
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("x", "y"))
            writer.writerows((repr(x), repr(y)) for x, y in rows)
        digest = file_digest(path, "sha1")
        return api.submit_sources(path, width, height, **options), digest
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _submit_url(url, options):
    path = local_path(url)
    return api.submit(path, **options), file_digest(path, "sha1")


def local_path(url):
    """The file a ``file://`` URL names, if it lies inside an allowed folder."""
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise NovaError("url_upload takes file:// URLs only (this server fetches nothing "
                        "from the network)", code="url_not_allowed")
    name = unquote(parts.path)
    if "\0" in name or not name.startswith("/"):
        raise NovaError("the file:// URL names no file", code="url_not_allowed")
    path = os.path.realpath(name)
    allowed = config.url_upload_dirs()
    if not any(os.path.commonpath([path, folder]) == folder for folder in allowed):
        raise NovaError("the file is outside the folders url_upload may read "
                        "(ASTRO_JOBS_URL_UPLOAD_DIRS)", code="url_not_allowed")
    return path


async def myjobs(request):
    """Every job the API created (one user here: the key's holder)."""
    await _require_session(await _request_args(request))
    numbers = await run_in_threadpool(request.app.state.ids.numbers)
    return success(jobs=numbers)


async def submission_images(request):
    args = await _request_args(request)
    await _require_session(args)
    try:
        number = int(args.get("subid"))
    except (TypeError, ValueError):
        raise NovaError("submission does not exist") from None
    if await run_in_threadpool(request.app.state.ids.job_id, number) is None:
        raise NovaError("submission does not exist")
    return success(image_ids=[number])


# -- reading jobs (sync: Starlette runs them in its thread pool) ---------------

def job_of(request):
    """(number, status, result) of the job the path names; JobNotFound if none."""
    number = request.path_params["number"]
    job_id = request.app.state.ids.job_id(number)
    if job_id is None:
        raise JobNotFound(f"no such job: {number}")
    status = privacy.require_visible(api.status(job_id), privacy.reader(request))
    return number, status, present.done_result(status)


def submission_status(request):
    number, status, result = job_of(request)
    return json_reply(privacy.redact(present.submission(number, status, result),
                                       privacy.reader(request)))


def job_status(request):
    _, status, result = job_of(request)
    return json_reply({"status": present.job_state(status, result)})


def calibration(request):
    number, status, result = job_of(request)
    cal = present.calibration(status, result)
    if cal is None:
        return json_reply({"error": f"no calibration data available for job {number}"})
    return json_reply(cal)


def info(request):
    _, status, result = job_of(request)
    return json_reply(present.info(status, result))


def objects_in_field(request):
    _, _, result = job_of(request)
    return json_reply({"objects_in_field": present.objects_in_field(result)})


def annotations(request):
    number, status, result = job_of(request)
    if present.calibration(status, result) is None:
        return json_reply({"error": f"no calibration data available for job {number}"})
    return json_reply({"annotations": present.annotations(result)})


def tags(request):
    job_of(request)
    return json_reply({"tags": []})
