"""Reading a nova request body: form fields in memory, the file to disk.

Multipart bodies are parsed as they arrive (werkzeug's sans-IO decoder,
which also accepts the bare-LF boundary lines nova's own client.py sends);
the file part goes straight to a private temporary folder, so a large image
is never held in memory whole and a refused one leaves nothing behind.
"""
import hashlib
import os
import re
import shutil
import tempfile
from urllib.parse import parse_qs

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from ... import config
from .wire import NovaError

# Form fields (request-json with a star list) stay in memory: bounded.
MAX_FIELDS_BYTES = 16 * 1024 * 1024
MAX_PARTS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


class TooLarge(NovaError):
    code = "too_large"


class Busy(NovaError):
    """Every upload slot is taken (HTTP 503): try again shortly."""

    code = "busy"


class _Slots:
    """Uploads being received now, at most ``ASTRO_JOBS_MAX_UPLOADS``: each holds
    a temporary file and a thread, so a flood waits outside, not on the disk."""

    def __init__(self):
        self.taken = 0

    async def __aenter__(self):
        if self.taken >= config.max_uploads():
            raise Busy(f"the server is receiving {self.taken} uploads already: "
                       "try again shortly (ASTRO_JOBS_MAX_UPLOADS)")
        self.taken += 1  # the event loop's thread only: no lock needed

    async def __aexit__(self, *exc):
        self.taken -= 1


SLOTS = _Slots()


def _check_length(request, multipart):
    """TooLarge before a byte is read if Content-Length is over what we would keep."""
    limit = MAX_FIELDS_BYTES + (config.max_image_bytes() if multipart else 0)
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.isdigit() or len(declared) > 20:
        raise NovaError("a malformed Content-Length")
    if int(declared) > limit:
        raise TooLarge(f"the request is {int(declared) / 2**20:.1f} MB, over the limit "
                       f"of {limit / 2**20:.0f} MB (ASTRO_JOBS_MAX_IMAGE_MB)")


class Form:
    """Fields of one request and, for an upload, the file on disk."""

    def __init__(self):
        self.fields = {}
        self.file_path = None
        self.filename = None
        self.sha1 = hashlib.sha1()  # nova's "hash" of an upload
        self._folder = None

    def new_file(self, filename):
        self._folder = tempfile.mkdtemp(prefix="astro-jobs-upload-")
        name = _UNSAFE.sub("_", os.path.basename(filename or "")).lstrip(".")[:120]
        self.filename = filename or "upload"
        self.file_path = os.path.join(self._folder, name or "upload")
        return open(self.file_path, "xb")

    def cleanup(self):
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self.file_path = None


async def read_form(request, before_file=None):
    """The request's fields (and file); the caller must call ``cleanup()``.

    ``before_file(fields)``, called with the fields read so far as the file
    part begins, may refuse the request before a byte of the file is stored.
    """
    form = Form()
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    _check_length(request, content_type == "multipart/form-data")
    try:
        if content_type == "multipart/form-data":
            await _read_multipart(request, options.get("boundary", ""), form, before_file)
        elif request.method == "POST":
            form.fields = _parse_query(await _read_body(request))
        for key, values in request.query_params.multi_items():
            form.fields.setdefault(key, values)
    except BaseException:
        form.cleanup()
        raise
    return form


def _parse_query(body):
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise NovaError("the form is not UTF-8") from None
    return {key: values[-1] for key, values in pairs.items()}


async def _read_body(request):
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FIELDS_BYTES:
            raise TooLarge(f"the request is over {MAX_FIELDS_BYTES // 2**20} MB")
    return bytes(body)


async def _read_multipart(request, boundary, form, before_file):
    if not boundary:
        raise NovaError("multipart request without a boundary")
    limit = config.max_image_bytes()
    decoder = MultipartDecoder(boundary.encode("latin-1"), MAX_FIELDS_BYTES,
                               max_parts=MAX_PARTS)
    parts = _Parts(form, limit, before_file)
    try:
        async for chunk in request.stream():
            decoder.receive_data(chunk)
            _drain(decoder, parts)
        decoder.receive_data(None)
        _drain(decoder, parts)
    except RequestEntityTooLarge:
        raise TooLarge(f"a form field is over {MAX_FIELDS_BYTES // 2**20} MB, or the "
                       f"request has over {MAX_PARTS} parts") from None
    except ValueError as exc:  # werkzeug's parse errors
        raise NovaError(f"malformed multipart body: {exc}") from None
    finally:
        parts.close()
    if not parts.ended:
        raise NovaError("the upload is truncated: the multipart body has no end")


def _drain(decoder, parts):
    event = decoder.next_event()
    while not isinstance(event, NeedData):
        parts.handle(event)
        if isinstance(event, Epilogue):
            return
        event = decoder.next_event()


class _Parts:
    """Sorts decoder events into fields and one file, within the limits."""

    def __init__(self, form, limit, before_file=None):
        self.form, self.limit, self.before_file = form, limit, before_file
        self.name = self.handle_out = None
        self.buffer = bytearray()
        self.size = 0
        self.ended = False

    def handle(self, event):
        if isinstance(event, File) and event.name == "file" and self.form.file_path is None:
            if self.before_file is not None:
                self.before_file(self.form.fields)
            self.name, self.handle_out = event.name, self.form.new_file(event.filename)
        elif isinstance(event, (Field, File)):
            self.name, self.buffer = event.name, bytearray()
        elif isinstance(event, Data):
            self._data(event)
        elif isinstance(event, Epilogue):
            self.ended = True

    def _data(self, event):
        if self.handle_out is not None and self.name == "file":
            self.size += len(event.data)
            self.form.sha1.update(event.data)
            if self.size > self.limit:
                raise TooLarge(f"the file is over the limit of {self.limit / 2**20:.0f} MB "
                               "(ASTRO_JOBS_MAX_IMAGE_MB)")
            self.handle_out.write(event.data)
            if not event.more_data:
                self.close()
                self.name = None
            return
        self.buffer += event.data
        if len(self.buffer) > MAX_FIELDS_BYTES:
            raise TooLarge(f"a form field is over {MAX_FIELDS_BYTES // 2**20} MB")
        if not event.more_data and self.name is not None:
            self.form.fields[self.name] = self.buffer.decode("utf-8", "replace")

    def close(self):
        if self.handle_out is not None:
            self.handle_out.close()
            self.handle_out = None
