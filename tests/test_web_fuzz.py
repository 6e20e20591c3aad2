"""Property-based fuzzing of `astro-jobs serve` (hypothesis): mutated
``request-json`` bodies and mutated headers, sent by a real client to a real
server on 127.0.0.1 with an API key. Every answer is quick and below 500;
afterwards no upload is left in the temporary folder, no half-made job in
JOBS_DIR, no traceback in the server's log, and the server still answers."""
import json
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_web import KEY, login

from support import make_png

QUICK = 5.0  # seconds: one answer; the loaded CI machine included
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
NOVA = ["/api/login", "/api/upload", "/api/url_upload", "/api/myjobs",
        "/api/submission_images", "/api/submissions/1", "/api/jobs/1", "/api/jobs/1/info",
        "/api/jobs/1/calibration", "/api/jobs/1/annotations", "/joblog/1", "/wcs_file/1"]
PAGES = ["/", "/login", "/logout", "/submit", "/page.json", "/jobs/bulk",
         "/jobs/" + "0" * 32, "/jobs/" + "0" * 32 + "/cancel"]
# Fields of nova's requests, each with a value it takes.
VALID = {"session": None, "apikey": KEY, "url": "file:///nowhere.png", "subid": 1,
         "x": [10.5, 20.0, 30.25], "y": [5.0, 15.5, 25.0], "image_width": 64,
         "image_height": 48, "scale_units": "degwidth", "scale_type": "ul",
         "scale_lower": 1, "scale_upper": 10, "scale_est": 5, "scale_err": 10,
         "center_ra": 10.0, "center_dec": 20.0, "radius": 2, "downsample_factor": 2,
         "tweak_order": 2, "parity": 2, "publicly_visible": "n", "crpix_center": True,
         "positional_error": 1.0, "use_sextractor": False, "invert": False}
EDGES = [None, True, 0, -1, 2**63, -(2**64), 1e308, -1e-308, "", "\x00", "💫" * 3, "a" * 5000,
         "NaN", "Infinity", "1e999", [], {}, [[[]]], {"a": {"b": None}}, "../../etc/passwd",
         "file:///etc/passwd", "file://%00", "http://127.0.0.1:9/", "9" * 400]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40) | st.sampled_from(EDGES),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=20)


@st.composite
def request_json(draw, session):
    """A nova request's JSON text: real fields, some changed, dropped or added, the
    text itself sometimes cut or spliced with literals JSON forbids."""
    fields = dict(VALID, session=session)
    keys = draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=8, unique=True))
    args = {key: fields[key] for key in keys}
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        args[key] = draw(json_values)
    args.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=2)))
    text = json.dumps(args)
    cut = draw(st.sampled_from(["none", "none", "truncate", "splice", "nest"]))
    where = draw(st.integers(0, len(text)))
    if cut == "truncate":
        text = text[:where]
    elif cut == "splice":
        text = text[:where] + draw(st.sampled_from(
            ["NaN", "Infinity", "-Infinity", "1e99999", "\\ud800", "\x00", '"', "]", "{",
             "9" * 5000, "[" * 5000])) + text[where:]
    elif cut == "nest":
        depth = draw(st.sampled_from([1000, 10_000, 100_000]))
        text = '{"session": %s, "x": %s%s}' % (json.dumps(session), "[" * depth, "]" * depth)
    return text


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
HEADERS = {
    "Content-Type": ["multipart/form-data", "multipart/form-data; boundary=", "text/plain",
                     "application/json", "application/x-www-form-urlencoded; charset=bogus",
                     "multipart/form-data; boundary=" + "x" * 300],
    "Origin": ["null", "http://evil.example", "http://127.0.0.1", "file://", "http://[::1"],
    "Host": ["evil.example", "127.0.0.1:1", "localhost", "[::1]", ":80", "a" * 300, "[zz]"],
    "Cookie": ["astro_jobs_session=" + "0" * 48, "astro_jobs_session=\"x", "=;=;"],
    "Sec-Fetch-Site": ["cross-site", "same-origin", "none"],
    "X-Forwarded-For": ["1.2.3.4", "not an address", "::1, 10.0.0.1"],
    "Accept": ["application/json", "text/html", "*/*"],
}


@st.composite
def headers(draw):
    names = draw(st.lists(st.sampled_from(sorted(HEADERS)), max_size=4, unique=True))
    # As bytes: a header is latin-1 on the wire, high bytes included; the client
    # sends no value with spaces around it or DEL in it (HTTP forbids them).
    return {name: draw(st.sampled_from(HEADERS[name]) | header_text).encode("latin-1")
            .replace(b"\x7f", b"").strip(b" \t") for name in names}


@pytest.fixture
def target(env, server, tmp_path):
    """A server with a key, a live session, and what is left to check afterwards."""
    web = server(ASTRO_JOBS_API_KEY=KEY, ASTRO_JOBS_URL_UPLOAD_DIRS=str(tmp_path),
                 ASTRO_JOBS_MAX_IMAGE_MB="1")
    session = login(web.url, KEY)
    png = make_png(tmp_path / "tiny.png").read_bytes()
    client = httpx.Client(base_url=web.url, timeout=QUICK)
    yield web, session, png, client
    client.close()
    assert list((tmp_path / "tmp").iterdir()) == [], "an upload was left behind"
    for folder in env.jobs_dir.iterdir():
        assert not folder.name.startswith((".incoming-", ".trash-")), folder.name
        if len(folder.name) == 32:
            assert (folder / "status.json").is_file(), f"half-made job {folder.name}"
    assert "Traceback" not in web.output(), web.output()[-3000:]
    started = time.monotonic()
    assert httpx.get(web.url + "/", timeout=QUICK).status_code == 200
    assert time.monotonic() - started < 2.0


def send(client, method, path, **kwargs):
    started = time.monotonic()
    reply = client.request(method, path, **kwargs)
    took = time.monotonic() - started
    assert reply.status_code < 500, (method, path, reply.status_code, reply.text[:500])
    assert took < QUICK, (method, path, took)
    return reply


def test_mutated_request_json_gets_a_quick_answer_never_a_500(target):
    web, session, png, client = target

    @FUZZ
    @given(data=st.data())
    def one(data):
        path = data.draw(st.sampled_from(NOVA))
        who = data.draw(st.sampled_from([session, "0" * 48, None, 7]))
        text = data.draw(request_json(who))
        if path == "/api/upload" and data.draw(st.booleans()):
            reply = send(client, "POST", path, data={"request-json": text},
                         files={"file": ("tiny.png", png)})
        else:
            # A query string holds a few kilobytes; longer texts go as a form.
            method = data.draw(st.sampled_from(["POST", "POST", "GET"])) \
                if len(text) < 2000 else "POST"
            form = {"request-json": text}
            reply = send(client, method, path, **(
                {"data": form} if method == "POST" else {"params": form}))
        if path.startswith("/api/") and reply.status_code != 404:
            assert isinstance(reply.json(), dict)  # nova's JSON, whatever went in
    one()


def test_mutated_headers_get_a_quick_answer_never_a_500(target):
    web, session, png, client = target

    @FUZZ
    @given(path=st.sampled_from(NOVA + PAGES), method=st.sampled_from(["GET", "POST"]),
           extra=headers(), body=st.sampled_from(["form", "multipart", "raw", "none"]),
           raw=st.binary(max_size=200))
    def one(path, method, extra, body, raw):
        form = {"request-json": json.dumps({"session": session})}
        kwargs = {"headers": extra}
        if method == "POST" and body == "form":
            kwargs["data"] = form
        elif method == "POST" and body == "multipart":
            kwargs.update(data=form, files={"file": ("tiny.png", png)})
        elif method == "POST" and body == "raw":
            kwargs["content"] = raw
        send(client, method, path, **kwargs)
    one()
