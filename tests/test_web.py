"""`astro-jobs serve`: nova's protocol and the operator page against a real
server process and real consumers (stand-in extractor: the solver is not the
point here; tests/test_web_solve.py solves for real)."""
import json
import os
import signal
import socket
import subprocess
from datetime import datetime

import httpx
import pytest

from support import REPO, Env, free_port, make_png, wait_until

KEY = "s3cret-key"


def nova(url, path, args=None, files=None, method="POST"):
    """One nova request as its clients send it; the parsed JSON and the HTTP status."""
    data = None if args is None else {"request-json": json.dumps(args)}
    reply = httpx.request(method, url + path, data=data, files=files, timeout=30)
    # nova's own header, to the byte: astrometry-net-client refuses any other.
    assert reply.headers["content-type"] == "text/plain", (path, reply.headers)
    return reply.json(), reply.status_code


def login(url, apikey="anything"):
    doc, code = nova(url, "/api/login", {"apikey": apikey})
    assert code == 200 and doc["status"] == "success", doc
    return doc["session"]


def upload(url, session, path, **fields):
    with open(path, "rb") as handle:
        doc, code = nova(url, "/api/upload", dict(fields, session=session),
                         files={"file": (os.path.basename(path), handle)})
    return doc, code


def poll_finished(url, subid, timeout=30):
    def finished():
        doc, _ = nova(url, f"/api/submissions/{subid}", method="GET")
        return doc if doc["processing_finished"] != "None" else None
    doc = wait_until(finished, timeout, 0.1)
    assert doc, f"submission {subid} did not finish"
    return doc


def job_folders(env):
    """Job folders only (JOBS_DIR also holds the consumer registry)."""
    return [env.jobs_dir / name for name in env.job_folders()]


def test_nova_flow_upload_poll_and_read(env, server, images, consumers):
    consumers(env)
    web = server()
    session = login(web.url)
    doc, code = upload(web.url, session, images("ok"), scale_units="degwidth",
                       scale_type="ul", scale_lower=10, scale_upper=50, center_ra=187.2,
                       center_dec=56.7, radius=10, parity=2, downsample_factor=2,
                       publicly_visible="n", allow_commercial_use="d")
    assert code == 200 and doc["status"] == "success", doc
    assert isinstance(doc["subid"], int) and len(doc["hash"]) == 40
    sub = poll_finished(web.url, doc["subid"])
    assert sub["jobs"] == [doc["subid"]] and isinstance(sub["jobs"][0], int)
    assert "error_message" not in sub and sub["user"] == 1
    for key in ("processing_started", "processing_finished"):  # nova's format, UTC
        datetime.strptime(sub[key], "%Y-%m-%d %H:%M:%S.%f")
    job = sub["jobs"][0]
    for path in (f"/api/jobs/{job}", f"/api/jobs/{job}/"):
        for method in ("GET", "POST"):
            assert nova(web.url, path, method=method)[0] == {"status": "success"}
    info, _ = nova(web.url, f"/api/jobs/{job}/info")
    assert info["status"] == "success" and info["original_filename"] == "ok.png"
    assert nova(web.url, f"/api/jobs/{job}/tags")[0] == {"tags": []}
    assert nova(web.url, f"/api/jobs/{job}/machine_tags/")[0] == {"tags": []}
    assert nova(web.url, "/api/myjobs/", {"session": session})[0] == {
        "status": "success", "jobs": [job]}
    assert nova(web.url, "/api/submission_images", {"session": session, "subid": job})[0] == {
        "status": "success", "image_ids": [job]}
    assert nova(web.url, "/api/submission_images", {"session": session, "subid": 7})[0][
        "status"] == "error"
    # The scale fields reached the extractor; nova's other hints are kept in params.
    (folder,) = job_folders(env)
    status = json.loads((folder / "status.json").read_text())
    assert status["params"]["scale_low"] == 10 and status["params"]["downsample"] == 2
    assert status["params"]["hints"] == {"parity": 2}
    assert (status["params"]["ra"], status["params"]["dec"], status["params"]["radius"]) == (
        187.2, 56.7, 10.0)
    argv = json.loads((folder / "output" / "result.json").read_text())["argv"]
    assert argv[argv.index("--scale-low") + 1] == "10.0" and "--downsample" in argv
    assert "--ra" not in argv  # the pointing goes to the bundled extractor only


def test_nova_client_py_multipart_with_bare_newlines(env, server, images):
    """nova's client.py writes its boundary lines with a bare LF."""
    web = server()
    session = login(web.url)
    image = images("ok").read_bytes()
    boundary = "===============1234567890123456789=="
    body = (f"--{boundary}\nContent-Type: text/plain\r\nMIME-Version: 1.0\r\n"
            'Content-disposition: form-data; name="request-json"\r\n\r\n'
            + json.dumps({"session": session}) + f"\n--{boundary}\n"
            "Content-Type: application/octet-stream\r\nMIME-Version: 1.0\r\n"
            'Content-disposition: form-data; name="file"; filename="ok.png"\r\n\r\n'
            ).encode() + image + f"\n--{boundary}--\n".encode()
    reply = httpx.post(web.url + "/api/upload", content=body, headers={
        "Content-Type": f'multipart/form-data; boundary="{boundary}"'})
    assert reply.json()["status"] == "success", reply.text
    (folder,) = job_folders(env)
    assert (folder / "input" / "ok.png").read_bytes() == image


def test_api_key_restricts_login_and_sessions(env, server, images):
    first, second = server(ASTRO_JOBS_API_KEY=KEY), server(ASTRO_JOBS_API_KEY=KEY)
    assert nova(first.url, "/api/login", {"apikey": "wrong"})[0] == {
        "status": "error", "errormessage": "bad apikey", "code": "bad_request"}
    session = login(first.url, KEY)
    doc, _ = upload(first.url, "0" * len(session), images("ok"))
    assert doc["status"] == "error" and "no session" in doc["errormessage"]
    doc, _ = upload(first.url, None, images("ok"))
    assert doc["status"] == "error"
    # Another server sharing JOBS_DIR honours the session.
    doc, _ = upload(second.url, session, images("ok"))
    assert doc["status"] == "success", doc
    assert len(job_folders(env)) == 1


def test_integer_ids_survive_restarts_and_are_shared_by_servers(env, server, images):
    first, second = server(), server()
    session = login(first.url)
    ids = [upload(web.url, session, images("ok"))[0]["subid"]
           for web in (first, second, first, second)]
    assert ids == sorted(set(ids)), ids
    first.stop()
    again = server()
    for subid in ids:
        doc, code = nova(again.url, f"/api/submissions/{subid}", method="GET")
        assert code == 200 and doc["jobs"] == [subid]
        # No consumer: queued, which nova's job status calls "processing" (not started).
        assert nova(again.url, f"/api/jobs/{subid}", method="GET") == \
            ({"status": "processing"}, 200)
    folders = {json.loads((p / "status.json").read_text())["job_id"] for p in job_folders(env)}
    assert len(folders) == 4


def test_bad_requests_get_nova_errors_and_leave_nothing_behind(env, server, images, tmp_path):
    web = server(ASTRO_JOBS_MAX_IMAGE_MB="0.01",
                 ASTRO_JOBS_URL_UPLOAD_DIRS=str(images("ok").parent))
    session = login(web.url)
    uploads = tmp_path / "bad"
    uploads.mkdir()
    cases = {"text.jpg": b"not an image at all", "empty.png": b"",
             "cut.png": make_png(uploads / "whole.png").read_bytes()[:40],
             "big.png": make_png(uploads / "big0.png", 200, 200).read_bytes() + b"\0" * 20000}
    for name, data in cases.items():
        (uploads / name).write_bytes(data)
        doc, code = upload(web.url, session, uploads / name)
        assert doc["status"] == "error" and doc["errormessage"], (name, doc)
        assert code == (413 if name == "big.png" else 200), (name, code)
    outside = f"file://{uploads / 'whole.png'}"
    for args in ({"session": session, "url": outside},
                 {"session": session, "url": "http://127.0.0.1:9/x.png"},
                 {"session": session, "x": [1, 2], "y": [1], "image_width": 9,
                  "image_height": 9},
                 {"session": session, "x": [1, "a"], "y": [1, 2], "image_width": 9,
                  "image_height": 9},
                 {"session": session, "x": [-5, -2], "y": [-1, -3]}):
        doc, code = nova(web.url, "/api/url_upload", args)
        assert code == 200 and doc["status"] == "error", (args, doc)
    for body in ({"request-json": "{not json"}, {"request-json": "[1]"}, {"other": "x"}, None):
        reply = httpx.post(web.url + "/api/upload", data=body)
        assert reply.status_code == 200 and reply.json()["status"] == "error", reply.text
    for path in ("/api/submissions/99", "/api/jobs/99", "/api/jobs/99/calibration",
                 "/wcs_file/99", "/joblog/99", "/api/jobs/abc", "/api/nothing",
                 "/rdls_file/99", "/axy_file/99", "/corr_file/99", "/new_fits_file/99",
                 "/api/jobs/0", f"/api/jobs/{2**70}"):
        reply = httpx.get(web.url + path)
        assert reply.status_code == 404 and reply.json()["status"] == "error", path
        assert reply.headers["content-type"] == "text/plain", path
    # nova answers every kml_file request with a sentence (its KMZ maker is off).
    kml = httpx.get(web.url + "/kml_file/99")
    assert kml.status_code == 200 and "KMZ" in kml.text
    assert kml.headers["content-type"] == "text/html; charset=utf-8"
    assert job_folders(env) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert "Traceback" not in web.output()


def test_star_lists_from_x_and_y_become_star_list_jobs(env, server, consumers):
    consumers(env)
    web = server()
    session = login(web.url)
    xs, ys = [10.5, 20.0, 30.25, 41.0], [5.0, 15.5, 25.0, 35.75]
    doc, _ = nova(web.url, "/api/url_upload", {"session": session, "x": xs, "y": ys,
                                               "image_width": 640, "image_height": 480})
    assert doc["status"] == "success", doc
    poll_finished(web.url, doc["subid"])
    (folder,) = job_folders(env)
    status = json.loads((folder / "status.json").read_text())
    assert status["input"]["format"] == "csv" and status["input"]["sources"] == 4
    rows = (folder / "input" / status["input"]["file"]).read_text().split()
    assert [tuple(map(float, r.split(","))) for r in rows[1:]] == list(zip(xs, ys))
    argv = json.loads((folder / "output" / "result.json").read_text())["argv"]
    assert argv[argv.index("--width") + 1] == "640" and argv[argv.index("--height") + 1] == "480"


def test_an_xyls_without_the_image_size_is_sized_from_its_stars(env, server, consumers,
                                                                 tmp_path):
    """nova's rule: the largest x and y, rounded up. Column names in any case,
    as astrometry.net reads them (and as the extractor does)."""
    import numpy as np
    from astropy.io import fits

    consumers(env)
    web = server()
    x = np.array([10.5, 639.2, 30.25], dtype=np.float32)
    y = np.array([5.0, 15.5, 479.5], dtype=np.float32)
    path = tmp_path / "stars.xyls"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column("x", "E", array=x), fits.Column("y", "E", array=y)])]).writeto(path)
    doc, _ = upload(web.url, login(web.url), path)
    assert doc["status"] == "success", doc
    poll_finished(web.url, doc["subid"])
    (folder,) = job_folders(env)
    status = json.loads((folder / "status.json").read_text())
    assert status["input"]["format"] == "xyls" and status["input"]["sources"] == 3
    argv = json.loads((folder / "output" / "result.json").read_text())["argv"]
    assert argv[argv.index("--width") + 1] == "640" and argv[argv.index("--height") + 1] == "480"


def test_file_urls_inside_the_allowed_folder_only(env, server, images, tmp_path):
    image = images("ok")
    (image.parent / "escape.png").symlink_to(tmp_path / "elsewhere.png")
    make_png(tmp_path / "elsewhere.png")
    web = server(ASTRO_JOBS_URL_UPLOAD_DIRS=str(image.parent))
    session = login(web.url)
    doc, _ = nova(web.url, "/api/url_upload", {"session": session, "url": f"file://{image}"})
    assert doc["status"] == "success", doc
    doc, _ = nova(web.url, "/api/url_upload",
                  {"session": session, "url": f"file://{image.parent / 'escape.png'}"})
    assert doc["status"] == "error" and doc["code"] == "url_not_allowed"
    assert len(job_folders(env)) == 1


def test_operator_page_is_read_only_until_logged_in(env, server, images, consumers):
    consumers(env)
    web = server(ASTRO_JOBS_API_KEY=KEY)
    hang = env.submit(images("hang"))
    env.wait_for(hang, lambda s: s["state"] == "processing", what="processing")
    page = httpx.get(web.url + "/").text
    assert hang in page and "No job is running" not in page and 'name="file"' not in page
    refused = httpx.post(f"{web.url}/jobs/{hang}/cancel")
    assert refused.status_code == 403 and env.status(hang)["state"] == "processing"
    with httpx.Client(base_url=web.url) as browser:
        assert browser.post("/login", data={"apikey": "wrong"}).headers["location"] \
            == "/?login=failed"
        browser.post("/login", data={"apikey": KEY})
        assert 'name="file"' in browser.get("/").text
        assert browser.post(f"/jobs/{hang}/cancel").status_code == 303
        assert env.status(hang)["state"] == "cancelled"
        cross = browser.post(f"/jobs/{hang}/cancel", headers={"Origin": "http://evil.test"})
        assert cross.status_code == 403
    job_page = httpx.get(f"{web.url}/jobs/{hang}").text
    assert "cancelled" in job_page and "stand-in extractor: mode hang" in job_page
    assert httpx.get(f"{web.url}/jobs/{hang}/files/input").content == \
        images("hang").read_bytes()
    assert httpx.get(f"{web.url}/jobs/{hang}/files/wcs").status_code == 404
    assert httpx.get(f"{web.url}/jobs/{'f' * 32}").status_code == 404


def test_procfile_web_line_serves_on_loopback(env, tmp_path):
    port = free_port()
    log = open(tmp_path / "honcho.log", "wb")
    proc = subprocess.Popen(["honcho", "-f", str(REPO / "Procfile"), "start", "web"],
                            env=Env(env, ASTRO_JOBS_WEB_PORT=str(port)), cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def answer():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/jobs/1", timeout=2)
            except httpx.TransportError:
                return None
        reply = wait_until(answer, 20, 0.1)
        assert reply is not None, (tmp_path / "honcho.log").read_text()
        assert reply.status_code == 404 and reply.json()["status"] == "error"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()


def test_nova_scale_fields_become_scale_bounds():
    from astro_jobs.web.nova import wire as nova

    assert nova.scale_bounds({}) == (None, None, None)
    assert nova.scale_bounds({"scale_type": "ev", "scale_est": 10, "scale_err": 20,
                              "scale_units": "arcminwidth"}) == (8.0, 12.0, "arcminwidth")
    # nova's defaults fill a missing bound.
    assert nova.scale_bounds({"scale_lower": 2}) == (2.0, 180.0, "degwidth")
    # 35 mm-equivalent focal lengths: 50 mm is about 39.6 degrees wide, 18 mm 90.
    low, high, units = nova.scale_bounds({"scale_units": "focalmm", "scale_lower": 18,
                                          "scale_upper": 50})
    assert units == "degwidth" and round(low, 1) == 39.6 and round(high, 1) == 90.0
    for bad in ({"scale_units": "furlongs", "scale_lower": 1, "scale_upper": 2},
                {"scale_type": "ev", "scale_est": 10}, {"scale_type": "xx"},
                {"scale_lower": "wide", "scale_upper": 3}):
        with pytest.raises(nova.NovaError):
            nova.scale_bounds(bad)
    with pytest.raises(nova.NovaError):
        nova.submit_params({"parity": 5})


def test_uploads_are_streamed_to_disk_not_held_in_memory(env, server, tmp_path):
    web = server()
    session = login(web.url)

    def peak_kb():
        status = open(f"/proc/{web.proc.pid}/status").read()
        return int(status.split("VmHWM:")[1].split()[0])
    big = tmp_path / "big.raw"
    with open(big, "wb") as handle:  # 64 MB that is no image: received whole, then refused
        handle.truncate(64 * 2**20)
    before = peak_kb()
    doc, code = upload(web.url, session, big)
    assert code == 200 and doc["status"] == "error", doc
    assert peak_kb() - before < 16 * 1024, (before, peak_kb())
    assert job_folders(env) == [] and list((tmp_path / "tmp").iterdir()) == []


def test_serve_refuses_bad_usage_with_json(env, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        code, out, _ = env.run("serve", "--port", taken.getsockname()[1])
        assert (code, out["code"]) == (1, "cannot_listen"), out
    (tmp_path / "cert.pem").write_text("x")
    code, out, _ = env.run("serve", "--cert", tmp_path / "cert.pem")
    assert (code, out["code"]) == (2, "usage") and "--key" in out["error"]
