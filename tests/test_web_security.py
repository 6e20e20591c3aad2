"""`astro-jobs serve` against an attacker: requests made here, by hand, to a
real server on 127.0.0.1 (issue 18). Without a key: other web pages and
DNS rebinding kept out. With a key: private jobs, sessions, throttling.
Everywhere: no 500, no file served from outside its job, safe headers."""
import json
import re
import socket
import ssl
import time

import httpx
from test_web import KEY, job_folders, login, nova, poll_finished, upload

from support import self_signed_certificate, wait_until


def raw(web, method, path, headers=None, **kwargs):
    return httpx.request(method, web.url + path, headers=headers or {}, timeout=30, **kwargs)


def port_of(web):
    return web.url.rsplit(":", 1)[1]


# -- no key: a desktop server other pages cannot drive ----------------------------

def test_changes_take_post_only(env, server, images):
    web = server(ASTRO_JOBS_URL_UPLOAD_DIRS=str(images("ok").parent))
    session = login(web.url)
    query = {"request-json": json.dumps({"session": session,
                                         "url": f"file://{images('ok')}"})}
    for path in ("/api/url_upload", "/api/url_upload/", "/api/login", "/api/upload"):
        reply = raw(web, "GET", path, params=query)
        assert reply.status_code == 405 and reply.json()["status"] == "error", path
    assert job_folders(env) == []
    # The same request by POST, as nova's clients send it, works.
    doc, _ = nova(web.url, "/api/url_upload", json.loads(query["request-json"]))
    assert doc["status"] == "success", doc


def test_other_sites_and_rebound_names_are_refused(env, server, images):
    web = server()
    session = login(web.url)
    port = port_of(web)
    body = {"request-json": json.dumps({"session": session})}
    files = {"file": ("ok.png", images("ok").read_bytes())}
    refused = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{int(port) + 1}"},  # another site on this machine
        {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"},  # rebinding
        {"Host": f"evil.example:{port}"},
        {"Sec-Fetch-Site": "cross-site"},
    ]
    for headers in refused:
        reply = raw(web, "POST", "/api/upload", headers, data=body, files=files)
        assert reply.status_code == 403 and reply.json()["status"] == "error", headers
        assert raw(web, "POST", "/submit", headers, files=files).status_code == 403
    # A rebinding page cannot read the server either.
    assert raw(web, "GET", "/", {"Host": f"evil.example:{port}"}).status_code == 403
    assert job_folders(env) == []
    # This site's own pages, localhost, and the names an operator allows are fine.
    for headers in ({"Origin": f"http://127.0.0.1:{port}"},
                    {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
                    {"Host": f"[::1]:{port}"}):
        reply = raw(web, "POST", "/api/upload", headers, data=body, files=files)
        assert reply.json()["status"] == "success", (headers, reply.text)
    allowed = server(ASTRO_JOBS_ALLOWED_HOSTS="Jobs.Example, other.example")
    reply = raw(allowed, "GET", "/", {"Host": "jobs.example"})
    assert reply.status_code == 200
    reply = raw(allowed, "POST", "/api/login", {"Host": "jobs.example",
                "Origin": "https://jobs.example"}, data={"request-json": '{"apikey": "k"}'})
    assert reply.json()["status"] == "success"
    anywhere = server(ASTRO_JOBS_ALLOWED_HOSTS="*")  # the operator checks names elsewhere
    assert raw(anywhere, "GET", "/", {"Host": "evil.example"}).status_code == 200


# -- headers ------------------------------------------------------------------------

def test_every_reply_refuses_sniffing_and_framing(env, server, images):
    web = server()
    session = login(web.url)
    doc, _ = upload(web.url, session, images("ok"))
    (folder,) = job_folders(env)
    job_id = folder.name
    for path in ("/", f"/jobs/{job_id}", f"/jobs/{job_id}/files/input", "/api/jobs/1",
                 f"/api/submissions/{doc['subid']}", "/static/style.css", "/nothing"):
        reply = raw(web, "GET", path)
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert reply.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"], path
    page = raw(web, "GET", f"/jobs/{job_id}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # Under that policy an inline script or style would not run: the pages have none.
    for path in ("/", f"/jobs/{job_id}"):
        html = raw(web, "GET", path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
    # A submitted picture opened on its own runs nothing.
    assert "sandbox" in raw(web, "GET", f"/jobs/{job_id}/files/input").headers[
        "content-security-policy"]


# -- never a 500 --------------------------------------------------------------------

HOSTILE_JSON = [
    "[" * 100_000 + "]" * 100_000,
    '{"session": "s", "a": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"session": "s", "scale_lower": NaN, "scale_upper": Infinity}',
    '{"session": "s", "downsample_factor": Infinity}',
    '{"session": "s", "downsample_factor": 1e999}',
    '{"session": "s", "downsample_factor": ' + "9" * 5000 + "}",
    '{"session": "s", "tweak_order": -' + "9" * 300 + "}",
    '{"session": "s", "scale_units": ["degwidth"], "scale_type": {"a": 1}}',
    '{"session": "s", "scale_type": "ev", "scale_est": 1e308, "scale_err": -1e308}',
    '{"session": "s", "url": "file:///etc/passwd%00.png"}',
    '{"session": "s", "url": "file://%00"}',
    '{"session": "s", "url": ["file:///x"]}',
    '{"session": "s", "x": [1e308, 2], "y": [1, 2], "image_width": 1e300, '
    '"image_height": "a"}',
    '{"session": "s", "x": {"a": 1}, "y": "b"}',
    '{"session": ["s"], "subid": {"a": 1}}',
    '{"apikey": {"a": 1}}',
    '{"apikey": "\\u0000"}',
    '"\\ud800"',
    "\x00",
]


def test_hostile_requests_never_get_a_500(env, server, tmp_path):
    web = server(ASTRO_JOBS_URL_UPLOAD_DIRS=str(tmp_path), ASTRO_JOBS_API_KEY=KEY)
    for text in HOSTILE_JSON:
        for path in ("/api/url_upload", "/api/login", "/api/upload", "/api/myjobs",
                     "/api/submission_images"):
            reply = raw(web, "POST", path, data={"request-json": text})
            assert reply.status_code < 500, (path, text[:60], reply.text[:300])
            assert reply.json()["status"] == "error", (path, text[:60], reply.text[:300])
    for path in ("/api/jobs/" + "9" * 5000, "/api/submissions/" + "1" * 5000,
                 "/wcs_file/" + "7" * 5000, "/jobs/" + "f" * 5000, "/jobs/%00",
                 "/jobs/" + "a" * 32 + "/files/%00", "/api/jobs/-1", "/joblog/1e5"):
        reply = raw(web, "GET", path)
        assert 400 <= reply.status_code < 500, (path[:40], reply.status_code, reply.text[:300])
    for body, kind in ((b"\xff\xfe" * 100, "application/x-www-form-urlencoded"),
                       (b"--x\r\n\r\n", "multipart/form-data; boundary=x"),
                       (b"a" * 100, "multipart/form-data"),
                       (b"request-json=%7B%7D&" * 500, "application/x-www-form-urlencoded")):
        reply = raw(web, "POST", "/api/upload", {"Content-Type": kind}, content=body)
        assert reply.status_code < 500, (kind, reply.text[:300])
    assert job_folders(env) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert "Traceback" not in web.output() and raw(web, "GET", "/").status_code == 200


# -- key mode: private submissions -----------------------------------------------

def test_private_jobs_are_shown_only_to_a_session_of_the_key(env, server, images, consumers,
                                                             tmp_path):
    consumers(env)
    web = server(ASTRO_JOBS_API_KEY=KEY)
    session = login(web.url, KEY)
    private, _ = upload(web.url, session, images("ok"), publicly_visible="n")
    public, _ = upload(web.url, session, images("ok", "-public"), publicly_visible="y")
    for doc in (private, public):
        poll_finished_as(web.url, doc["subid"], session)
    number = private["subid"]
    folders = {json.loads((f / "status.json").read_text())["params"].get("private"): f.name
               for f in job_folders(env)}
    hidden, shown = folders[True], folders[None]
    anonymous = [f"/api/submissions/{number}", f"/api/jobs/{number}",
                 f"/api/jobs/{number}/info", f"/api/jobs/{number}/calibration",
                 f"/joblog/{number}", f"/wcs_file/{number}", f"/jobs/{hidden}",
                 f"/jobs/{hidden}/files/input", f"/jobs/{hidden}/files/log"]
    for path in anonymous:
        assert raw(web, "GET", path).status_code == 404, path
        if path.startswith(("/api/", "/joblog", "/wcs_file")):  # nova's answer POST too
            assert raw(web, "POST", path, data={"request-json": '{"session": "x"}'}
                       ).status_code == 404, path
    for path in ("/", "/page.json"):  # the operator page and its live data alike
        text = raw(web, "GET", path).text
        assert hidden not in text and shown in text, path
    # nova's clients present their session in request-json; a browser, its cookie.
    doc, code = nova(web.url, f"/api/jobs/{number}/info", {"session": session})
    assert code == 200 and doc["status"] == "success", doc
    with httpx.Client(base_url=web.url) as browser:
        browser.post("/login", data={"apikey": KEY})
        assert browser.get(f"/jobs/{hidden}").status_code == 200
        assert browser.get(f"/jobs/{hidden}/files/input").content == images("ok").read_bytes()
        assert hidden in browser.get("/").text
    # What anonymous readers see of a public job names no server path.
    roots = [str(env.jobs_dir), str(env.jobs_dir.parent), str(tmp_path)]
    for path in (f"/jobs/{shown}", f"/jobs/{shown}/files/log", f"/joblog/{public['subid']}",
                 f"/api/submissions/{public['subid']}", "/page.json", "/"):
        text = raw(web, "GET", path).text
        assert not [root for root in roots if root in text], (path, text[:2000])
    with httpx.Client(base_url=web.url) as browser:  # the key's holder sees them
        browser.post("/login", data={"apikey": KEY})
        text = browser.get(f"/jobs/{shown}").text
        assert [root for root in roots if root in text]


def poll_finished_as(url, subid, session):
    """poll_finished, by a client presenting its session (a private job's)."""
    def finished():
        doc, _ = nova(url, f"/api/submissions/{subid}", {"session": session})
        return doc if doc.get("processing_finished", "None") != "None" else None
    doc = wait_until(finished, 30, 0.1)
    assert doc, f"submission {subid} did not finish"
    return doc



# -- key mode: sessions, logout, throttle, cookies ------------------------------

def test_sessions_end_at_logout_on_every_server_and_expire(env, server, images):
    first, second = server(ASTRO_JOBS_API_KEY=KEY), server(ASTRO_JOBS_API_KEY=KEY)
    hang = env.submit(images("hang"))
    with httpx.Client(base_url=first.url) as browser:
        assert browser.post("/login", data={"apikey": KEY}).status_code == 303
        kept = browser.cookies["astro_jobs_session"]
        assert 'name="file"' in browser.get(second.url + "/").text  # the other server too
        assert browser.post("/logout").status_code == 303
    # A cookie kept after logout is dead on both servers.
    for web in (first, second):
        reply = raw(web, "POST", f"/jobs/{hang}/cancel",
                    {"Cookie": f"astro_jobs_session={kept}"})
        assert reply.status_code == 403, reply.text
    assert env.status(hang)["state"] == "queued"
    # A nova session lives ASTRO_JOBS_SESSION_TTL seconds.
    short = server(ASTRO_JOBS_API_KEY=KEY, ASTRO_JOBS_SESSION_TTL="2")
    session = login(short.url, KEY)
    assert upload(short.url, session, images("ok"))[0]["status"] == "success"
    wait_until(lambda: "no session" in upload(short.url, session, images("ok"))[0].get(
        "errormessage", ""), 6, 0.5)
    assert upload(short.url, session, images("ok"))[0]["status"] == "error"


def test_wrong_keys_are_throttled_per_address_not_for_long(env, server):
    web = server(ASTRO_JOBS_API_KEY=KEY)
    started = time.monotonic()
    answers = [nova(web.url, "/api/login", {"apikey": f"guess{i}"}) for i in range(30)]
    guessed = time.monotonic() - started
    refused = [(doc, code) for doc, code in answers if code == 429]
    # Five guesses, then one more per 3 s of guessing; every other one a 429.
    assert len(answers) - len(refused) <= 6 + guessed / 3, (guessed, answers)
    assert refused and all(doc["status"] == "error" and "too many" in doc["errormessage"]
                           for doc, _ in refused)
    # While throttled, the right key is refused too (else the guesser learns it).
    def throttled_for_a_while():
        reply = raw(web, "POST", "/api/login", data={"request-json": '{"apikey": "guess"}'})
        return reply.status_code == 429 and int(reply.headers["retry-after"]) >= 2
    wait_until(throttled_for_a_while, 10, 0)
    reply = raw(web, "POST", "/api/login", data={"request-json": json.dumps({"apikey": KEY})})
    assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1
    assert raw(web, "POST", "/login", data={"apikey": KEY}).status_code == 429  # the page too
    # The key's holder waits seconds, not hours.
    started = time.monotonic()
    wait_until(lambda: nova(web.url, "/api/login", {"apikey": KEY})[1] == 200, 15, 0.5)
    assert time.monotonic() - started < 10
    assert nova(web.url, "/api/login", {"apikey": KEY})[0]["status"] == "success"


def test_session_cookie_is_secure_under_https_and_logins_check_origin(env, server, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    https = server("--cert", str(cert), "--key", str(key), ASTRO_JOBS_API_KEY=KEY)
    plain = server(ASTRO_JOBS_API_KEY=KEY)
    trust = ssl.create_default_context(cafile=str(cert))
    reply = httpx.post(https.url + "/login", data={"apikey": KEY}, verify=trust)
    cookie = reply.headers["set-cookie"].lower()
    assert reply.status_code == 303 and "secure" in cookie and "httponly" in cookie
    assert "samesite=strict" in cookie
    reply = httpx.post(plain.url + "/login", data={"apikey": KEY})
    assert reply.status_code == 303 and "secure" not in reply.headers["set-cookie"].lower()
    for path in ("/login", "/logout"):
        reply = raw(plain, "POST", path, {"Origin": "http://evil.example"},
                    data={"apikey": KEY})
        assert reply.status_code == 403 and "set-cookie" not in reply.headers, path


# -- check before you store ----------------------------------------------------------

def multipart_head(session, boundary="b0undary"):
    """The start of a nova upload: request-json, then the file part's header."""
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"request-json\"\r\n\r\n"
            f"{json.dumps({'session': session})}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.fits"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()


def open_upload(web, head, length, sent=b""):
    """A socket that has sent an upload's headers and ``head``, of ``length`` bytes."""
    host, port = web.url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /api/upload HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Content-Type: multipart/form-data; boundary=b0undary\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode() + head + sent)
    return sock


def answer(sock):
    """The status code and body of the reply on ``sock`` (sent before the body ended)."""
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_uploads_are_refused_before_their_body_is_stored(env, server, tmp_path):
    web = server(ASTRO_JOBS_API_KEY=KEY, ASTRO_JOBS_MAX_IMAGE_MB="1")
    spool = tmp_path / "tmp"
    # A wrong session: answered as the file part begins, its bytes never stored.
    sock = open_upload(web, multipart_head("0" * 48), 10_000_000, b"\0" * 65536)
    code, body = answer(sock)
    assert code == 200 and b"no session" in body
    # Too large by its Content-Length: 413 before a byte of the body is read.
    session = login(web.url, KEY)
    code, body = answer(open_upload(web, b"", 10**12))
    assert code == 413 and b"over the limit" in body
    # The file before request-json: nothing to check it against, refused.
    late = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
    code, body = answer(open_upload(web, late, 1_000_000, b"\0" * 1000))
    assert code == 200 and b"request-json" in body
    assert list(spool.iterdir()) == [] and job_folders(env) == []
    assert session and raw(web, "GET", "/").status_code == 200


def test_concurrent_uploads_are_bounded(env, server, images, tmp_path):
    web = server(ASTRO_JOBS_MAX_UPLOADS="2")
    session = login(web.url)
    holding = [open_upload(web, multipart_head(session), 1_000_000, b"\0" * 1000)
               for _ in range(2)]
    wait_until(lambda: len(list((tmp_path / "tmp").iterdir())) == 2, 10)
    doc, code = upload(web.url, session, images("ok"))
    assert code == 503 and doc["status"] == "error" and doc["code"] == "busy", doc
    for sock in holding:  # clients that give up free their slot and their file
        sock.close()
    wait_until(lambda: list((tmp_path / "tmp").iterdir()) == [], 10)
    doc, code = upload(web.url, session, images("ok"))
    assert code == 200 and doc["status"] == "success", doc


# -- files never leave their job -------------------------------------------------------

def test_files_served_never_leave_their_job_folder(env, server, images, consumers, tmp_path):
    consumers(env)
    web = server()
    session = login(web.url)
    doc, _ = upload(web.url, session, images("ok"))
    poll_finished(web.url, doc["subid"])
    number, (folder,) = doc["subid"], job_folders(env)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-OUTSIDE-THE-JOB\n")
    output = folder / "output"
    (output / "wcs.fits").symlink_to(secret)
    (output / "annotated.png").symlink_to(secret)
    (output / "corr.fits").write_bytes(b"SIMPLE  = T")  # a real output file: served
    result = json.loads((output / "result.json").read_text())
    result.update(solved=True, files={"wcs": "wcs.fits", "annotated": "annotated.png",
                                      "rdls": "../../../secret.txt", "corr": "corr.fits",
                                      "axy": str(secret)})
    (output / "result.json").write_text(json.dumps(result))
    (folder / "task.log").unlink()
    (folder / "task.log").symlink_to(secret)
    (folder / "input" / "ok.png").unlink()
    (folder / "input" / "ok.png").symlink_to(secret)
    job = f"/jobs/{folder.name}/files"
    for path in (f"/wcs_file/{number}", f"/annotated_display/{number}", f"{job}/wcs",
                 f"{job}/annotated", f"{job}/rdls", f"{job}/axy", f"{job}/input",
                 f"{job}/thumbnail", f"/joblog/{number}", f"{job}/log", f"/jobs/{folder.name}"):
        reply = raw(web, "GET", path)
        assert "SECRET" not in reply.text and reply.status_code < 500, (path, reply.text[:200])
    assert raw(web, "GET", f"{job}/corr").content == b"SIMPLE  = T"
    # A whole input/ folder swapped for a link to another folder is refused as well.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ok.png").write_text("SECRET-OUTSIDE-THE-JOB\n")
    (folder / "input" / "ok.png").unlink()
    (folder / "input").rmdir()
    (folder / "input").symlink_to(elsewhere)
    assert raw(web, "GET", f"{job}/input").status_code == 404
