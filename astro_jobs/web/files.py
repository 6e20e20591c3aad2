"""The files of a job, by nova's paths (integer ids) and the operator's (job ids).

Only what the extractor listed in result.json's ``files`` is served, and
``api.output_path`` checks that each stays inside the job's output/. One exception,
as on nova: new-image.fits of a solved JPEG, PNG or TIFF is built when
asked for, in a temporary file removed once sent.
"""
import os
import tempfile

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, PlainTextResponse, Response

from .. import api
from ..errors import JobNotFound
from . import present, privacy
from .nova import api as novaapi
from .nova.reply import FITS_TYPE, text_reply
from .operator import thumbnails

# name in result.json's "files" -> (media type, download name), nova's own.
KINDS = {
    "wcs": (FITS_TYPE, "wcs.fits"),
    "new_fits": (FITS_TYPE, "new-image.fits"),
    "rdls": (FITS_TYPE, "rdls.fits"),
    "axy": (FITS_TYPE, "axy.fits"),
    "corr": (FITS_TYPE, "corr.fits"),
    "annotated": ("image/png", None),
    "annotated_grid": ("image/png", None),
}
RASTERS = ("jpeg", "png", "tiff")
# nova's kml_file view answers this way for every job (its KMZ maker is off).
NO_KML = ("KMZ files are not made here (nova.astrometry.net has them turned off too); "
          "the WCS is at /wcs_file/N.")


def _serve(status, kind):
    job_id = status["job_id"]
    files = (present.done_result(status) or {}).get("files") or {}
    path = api.output_path(job_id, files.get(kind))
    if path is None and kind == "new_fits":
        return _raster_new_fits(status, api.output_path(job_id, files.get("wcs")))
    if path is None:
        raise JobNotFound(f"job {status['job_id']} has no {kind} file", code="file_not_found")
    media_type, download = KINDS[kind]
    return FileResponse(path, media_type=media_type, filename=download,
                        content_disposition_type="inline" if download is None else "attachment")


def _raster_new_fits(status, wcs_path):
    """new-image.fits of a solved JPEG, PNG or TIFF, built now (nova builds its own
    on request too); the temporary file goes once the reply is sent."""
    from ..extract.newfits import write_raster_fits

    if wcs_path is None or (status.get("input") or {}).get("format") not in RASTERS:
        raise JobNotFound(f"job {status['job_id']} has no new_fits file",
                          code="file_not_found")
    handle, path = tempfile.mkstemp(prefix="astro-jobs-new-", suffix=".fits")
    os.close(handle)
    try:
        write_raster_fits(_input_path(status), wcs_path, path)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type=FITS_TYPE, filename="new-image.fits",
                        background=BackgroundTask(os.unlink, path))


# Input formats a browser shows inline; others download.
INPUT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff",
               "fits": "application/fits", "csv": "text/csv", "xyls": "application/fits"}


def _input_path(status):
    path = api.input_path(status)
    if path is None:
        raise JobNotFound(f"job {status['job_id']} has no input file", code="file_not_found")
    return path


def _input(status):
    info = status.get("input") or {}
    path = _input_path(status)
    media_type = INPUT_TYPES.get(info.get("format"), "application/octet-stream")
    inline = media_type in ("image/jpeg", "image/png", "text/csv")
    return FileResponse(path, media_type=media_type, filename=info.get("file"),
                        content_disposition_type="inline" if inline else "attachment")


def _thumbnail(status):
    """The card's picture: the annotated image, else the input (for a job that did
    not solve, failed or was cancelled, shown dimmed by the page)."""
    result = present.done_result(status) or {}
    name = (result.get("files") or {}).get("annotated")
    data = thumbnails.thumbnail(status["job_id"], name) if name else \
        thumbnails.input_thumbnail(status)
    if data is None:
        raise JobNotFound(f"job {status['job_id']} has no picture to show",
                          code="file_not_found")
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


def _log(status, who):
    return PlainTextResponse(privacy.redact(api.logs(status["job_id"]), who))


def nova_file(kind):
    """An endpoint serving ``kind`` of the job behind an integer id."""
    def endpoint(request):
        _, status, _ = novaapi.job_of(request)
        return _log(status, privacy.reader(request)) if kind == "log" else _serve(status, kind)
    endpoint.__name__ = f"nova_{kind}"
    return endpoint


def kml_file(request):
    """nova's ``/kml_file/N``: a sentence for any N, as nova answers before it looks
    the job up."""
    return text_reply(NO_KML)


def job_file(request):
    """``/jobs/{job_id}/files/{kind}`` for the operator page."""
    kind = request.path_params["kind"]
    who = privacy.reader(request)
    status = privacy.require_visible(api.status(request.path_params["job_id"]), who)
    if kind == "log":
        return _log(status, who)
    if kind == "input":
        return _input(status)
    if kind == "thumbnail":
        return _thumbnail(status)
    if kind not in KINDS:
        raise JobNotFound(f"no file kind {kind!r}", code="file_not_found")
    return _serve(status, kind)
