"""nova's clients against `astro-jobs serve`, solving for real (bundled extractor,
solve-field, Tycho-2): astrometry-net-client from PyPI, unchanged but for the
server's address, and the requests KStars (StellarSolver's onlinesolver.cpp)
and N.I.N.A. (its AstrometryNet solvers) send, written from their source:
the same paths, bodies and headers, reading the same fields the same way.
astroquery's AstrometryNet is in tests/test_web_solve.py.
"""
import json
import os
import time
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from support import CORPUS, REPO, Consumer, Env, WebServer, separation_deg

EXPECTED = json.loads((CORPUS / "expected.json").read_text())
SOLVABLE = ["apod4.jpg", "apod2.jpg", "apod1.jpg", "m44-1910-04-01.jpg"]
NOVA = "http://nova.astrometry.net"
SOLVE_TIMEOUT = 240
STARS = REPO / "tests" / "data" / "sample"  # apod4's brightest sources, FITS pixels


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two consumers' worth of workers with the bundled extractor, one server."""
    root = tmp_path_factory.mktemp("nova-clients")
    env = Env({k: v for k, v in os.environ.items()
               if not k.startswith("ASTRO_JOBS_") and k not in ("JOBS_DIR", "ASTRO_EXTRACT_BIN")})
    env.update(JOBS_DIR=str(root / "jobs"), PYTHONDONTWRITEBYTECODE="1")
    consumer = Consumer(env, workers=2)
    web = WebServer(env)
    yield {"url": web.url, "root": root}
    web.stop()
    consumer.stop()


def assert_centre(name, ra, dec):
    truth = EXPECTED[name]
    error = separation_deg(ra, dec, truth["ra"], truth["dec"])
    assert error < 0.02 * truth["width"], (name, ra, dec, error)


# -- astrometry-net-client (PyPI), unchanged but for the address -----------------

@pytest.fixture
def anc(stack, monkeypatch):
    """astrometry_net_client with nova's address replaced by this server's wherever
    the package spells it (module constants bound at import)."""
    from astrometry_net_client import session, statusables, uploads

    for cls in (session.Session, uploads.FileUpload, uploads.URLUpload,
                statusables.Submission, statusables.Job):
        for name, value in list(vars(cls).items()):
            if isinstance(value, str) and value.startswith(NOVA):
                monkeypatch.setattr(cls, name, stack["url"] + value[len(NOVA):])
    from astrometry_net_client import Client
    return Client(api_key="any key: no ASTRO_JOBS_API_KEY is set")


def test_astrometry_net_client_solves_one_by_one_and_all_at_once(anc, stack, tmp_path):
    job = anc.upload_file(str(CORPUS / SOLVABLE[0]))
    assert job.success(), job
    info = job.info()
    assert info["original_filename"] == SOLVABLE[0] and "Ursa Major" in info["objects_in_field"]
    assert_centre(SOLVABLE[0], job.calibration["ra"], job.calibration["dec"])
    header = job.wcs_file()  # an astropy Header, parsed by the client
    assert header["CTYPE1"].startswith("RA---TAN")
    for table, column in ((job.rdls_file(), "RA"), (job.axy_file(), "X"),
                          (job.corr_file(), "field_ra")):
        assert column in table[1].columns.names and len(table[1].data) > 10
    new = job.new_fits_file()  # a JPEG's pixels as FITS, with the solution
    width, height = Image.open(CORPUS / SOLVABLE[0]).size
    assert new[0].data.shape == (height, width) and new[0].header["CTYPE2"].startswith("DEC")
    assert job.annotated_display()[:4] == b"\x89PNG"

    solved = {}
    for done, filename in anc.upload_files_gen(str(CORPUS / name) for name in SOLVABLE[1:]):
        assert done.success(), filename
        done.info()
        solved[os.path.basename(filename)] = done.calibration
    assert sorted(solved) == sorted(SOLVABLE[1:])
    for name, calibration in solved.items():
        assert_centre(name, calibration["ra"], calibration["dec"])


def test_astrometry_net_client_sees_an_unsolvable_image_fail(anc, tmp_path):
    from astrometry_net_client.exceptions import StatusFailedException

    flat = tmp_path / "flat.png"
    Image.new("L", (640, 480), 90).save(flat)
    job = anc.upload_file(str(flat))
    assert job.done() and not job.success() and job.resp_status == "failure"
    with pytest.raises(StatusFailedException):
        job.wcs_file()


def test_astrometry_net_client_reads_nova_errors(stack):
    """With ASTRO_JOBS_API_KEY set, the errors the client matches on, word for word."""
    from astrometry_net_client.exceptions import (
        InvalidSessionError,
        LoginFailedException,
        NoSessionError,
    )
    from astrometry_net_client.request import PostRequest
    from astrometry_net_client.session import Session

    web = WebServer(Env(os.environ, JOBS_DIR=str(stack["root"] / "keyed"),
                        ASTRO_JOBS_API_KEY="the-key"))
    try:
        with pytest.raises(InvalidSessionError, match='^no session with key "gone"$'):
            PostRequest(web.url + "/api/upload", data={"session": "gone"}).make()
        with pytest.raises(NoSessionError, match='^no "session" in JSON.$'):
            PostRequest(web.url + "/api/myjobs", data={"other": 1}).make()
        wrong = Session(api_key="wrong")
        wrong.url = web.url + "/api/login"
        with pytest.raises(LoginFailedException):
            wrong.login()
        right = Session(api_key="the-key")
        right.url = web.url + "/api/login"
        right.login()
        assert right.logged_in and right.key
    finally:
        web.stop()


# -- KStars: StellarSolver's onlinesolver.cpp --------------------------------------

def kstars_fits(folder):
    """What KStars uploads: the camera's FITS (rows bottom-up), here made from apod4."""
    grey = np.asarray(Image.open(CORPUS / "apod4.jpg").convert("L"), dtype=np.uint16)[::-1]
    path = folder / "Light_001.fits"
    fits.writeto(path, grey * 64)
    return path


def test_kstars_online_solver_requests(stack, tmp_path):
    client = httpx.Client(base_url=stack["url"], timeout=30)
    # authenticate(): a form body built by hand, compact JSON.
    login = client.post("/api/login", content="request-json=" + json.dumps(
        {"apikey": "k"}, separators=(",", ":")),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert login.headers["content-type"] == "text/plain"
    session = login.json()["session"]
    # uploadFile(): the JSON part typed application/text/plain, the file part
    # named by its full path.
    path = kstars_fits(tmp_path)
    request = {"publicly_visible": "n", "allow_modifications": "n", "session": session,
               "allow_commercial_use": "n", "scale_type": "ul", "scale_units": "degwidth",
               "scale_lower": 25.0, "scale_upper": 40.0, "crpix_center": True, "parity": 0}
    with open(path, "rb") as handle:
        uploaded = client.post("/api/upload", files=[
            ("request-json", (None, json.dumps(request, separators=(",", ":")),
                              "application/text/plain")),
            ("file", (str(path), handle, "application/octet-stream"))]).json()
    assert uploaded["status"] == "success" and isinstance(uploaded["subid"], int)
    # waitForProcessing() ... getJobID(): processing_finished is a string, "None"
    # until done; jobs' first entry read as an int.
    submission = client.get(f"/api/submissions/{uploaded['subid']}").json()
    assert isinstance(submission["processing_finished"], str)
    job = int(submission["jobs"][0])
    status = wait_for_job(client, job, accepted=("solving", "processing"))
    assert status == "success"
    calibration = client.get(f"/api/jobs/{job}/calibration").json()
    for field in ("width_arcsec", "height_arcsec", "orientation", "ra", "dec", "pixscale"):
        assert isinstance(calibration[field], float), field
    assert calibration["parity"] in (1.0, -1.0)  # QVariant::toInt of a JSON number
    assert_centre("apod4.jpg", calibration["ra"], calibration["dec"])
    log = client.get(f"/joblog/{job}")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    wcs = client.get(f"/wcs_file/{job}")
    assert wcs.headers["content-type"] == "application/fits"
    assert fits.Header.fromstring(wcs.content.decode("ascii"))["CTYPE1"].startswith("RA---TAN")


def wait_for_job(client, job, accepted):
    """Poll ``/api/jobs/N`` as the clients do; the first status outside ``accepted``."""
    for _ in range(SOLVE_TIMEOUT * 2):
        reply = client.get(f"/api/jobs/{job}")
        assert reply.headers["content-type"] == "text/plain"
        status = reply.json()["status"]
        if status not in accepted:
            return status
        time.sleep(0.5)
    raise AssertionError(f"job {job} still {status}")


# -- N.I.N.A.: NINA.PlateSolving's Astrometry.net solvers --------------------------

def test_nina_requests(stack):
    client = httpx.Client(base_url=stack["url"], timeout=30)
    # Authenticate(): "/api/login/" with a trailing slash, JSON url-encoded by hand.
    body = "request-json=" + quote('{"apikey":"k"}')
    session = client.post("/api/login/", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"}).json()["session"]
    request = {"publicly_visible": "n", "allow_modifications": "d", "session": session,
               "allow_commercial_use": "d", "scale_units": "arcsecperpix",
               "scale_lower": 169.7 * 0.8, "scale_upper": 169.7 * 1.2}
    with open(CORPUS / "apod4.jpg", "rb") as handle:
        submission = client.post("/api/upload", files=[
            ("request-json", (None, json.dumps(request, separators=(",", ":")),
                              "text/plain; charset=utf-8")),
            ("file", ("apod4.jpg", handle, "application/octet-stream"))]).json()
    assert submission["status"] == "success"
    # WaitForJobIdFromSubmission(): the first non-empty entry of "jobs", as text.
    jobs = client.get(f"/api/submissions/{submission['subid']}").json()["jobs"]
    job = next(str(j) for j in jobs if j is not None and str(j))
    assert wait_for_job(client, job, accepted=("solving", "processing")) == "success"
    calibration = client.get(f"/api/jobs/{job}/calibration/").json()
    # Calibration's fields: ra, dec, orientation, pixscale, radius, parity.
    assert_centre("apod4.jpg", calibration["ra"], calibration["dec"])
    assert abs(calibration["pixscale"] - 169.7) < 0.05 * 169.7
    assert calibration["radius"] > 10 and calibration["parity"] in (1.0, -1.0)
    info = client.get(f"/api/jobs/{job}/info/").json()
    assert info["status"] == "success" and info["calibration"]["ra"] == calibration["ra"]
    assert client.get(f"/annotated_display/{job}").content[:4] == b"\x89PNG"


def test_nina_text_solver_uploads_a_star_list(stack):
    """N.I.N.A.'s AstrometryTextSolver: its own stars as ``# X Y`` text lines named
    upload.xy, no image size (nova takes the largest x and y), scale in arcsec/px."""
    client = httpx.Client(base_url=stack["url"], timeout=30)
    session = client.post("/api/login/", content="request-json=" + quote('{"apikey":"k"}'),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}
                          ).json()["session"]
    rows = [line.split(",") for line in (STARS / "apod4-stars.csv").read_text().splitlines()[1:]]
    text = "# X Y\n" + "".join(f"{float(x):.3f} {float(y):.3f}\n" for x, y, _ in rows[:200])
    request = {"publicly_visible": "n", "allow_modifications": "d", "session": session,
               "allow_commercial_use": "d", "scale_units": "arcsecperpix",
               "scale_lower": 169.7 * 0.8, "scale_upper": 169.7 * 1.2}
    submission = client.post("/api/upload", files=[
        ("request-json", (None, json.dumps(request, separators=(",", ":")),
                          "text/plain; charset=utf-8")),
        ("file", ("upload.xy", text.encode(), "application/octet-stream"))]).json()
    assert submission["status"] == "success", submission
    job = str(client.get(f"/api/submissions/{submission['subid']}").json()["jobs"][0])
    assert wait_for_job(client, job, accepted=("solving", "processing")) == "success"
    calibration = client.get(f"/api/jobs/{job}/calibration/").json()
    assert_centre("apod4.jpg", calibration["ra"], calibration["dec"])
    info = client.get(f"/api/jobs/{job}/info/").json()
    assert info["status"] == "success"


def test_kstars_with_its_own_star_extractor_uploads_an_xyls(stack):
    """StellarSolver's online solver with an external extractor: the .xyls it made,
    with image_width and image_height."""
    client = httpx.Client(base_url=stack["url"], timeout=30)
    session = client.post("/api/login", content="request-json=" + json.dumps(
        {"apikey": "k"}, separators=(",", ":")),
        headers={"Content-Type": "application/x-www-form-urlencoded"}).json()["session"]
    request = {"publicly_visible": "n", "allow_modifications": "n", "session": session,
               "allow_commercial_use": "n", "image_width": 719, "image_height": 507,
               "crpix_center": True, "parity": 0}
    with open(STARS / "apod4-stars.xyls", "rb") as handle:
        uploaded = client.post("/api/upload", files=[
            ("request-json", (None, json.dumps(request, separators=(",", ":")),
                              "application/text/plain")),
            ("file", ("/home/astro/.local/share/kstars/solver.xyls", handle,
                      "application/octet-stream"))]).json()
    assert uploaded["status"] == "success", uploaded
    job = client.get(f"/api/submissions/{uploaded['subid']}").json()["jobs"][0]
    assert wait_for_job(client, job, accepted=("solving", "processing")) == "success"
    assert_centre("apod4.jpg", **{k: v for k, v in client.get(
        f"/api/jobs/{job}/calibration").json().items() if k in ("ra", "dec")})


def test_text_that_is_neither_stars_nor_an_image_is_refused(stack, tmp_path):
    client = httpx.Client(base_url=stack["url"], timeout=30)
    session = client.post("/api/login", data={"request-json": '{"apikey": "k"}'}).json()["session"]
    for text in ("# X Y\n1.0 two\n", "hello world\n", "# only a comment\n"):
        reply = client.post("/api/upload", data={"request-json": json.dumps(
            {"session": session})}, files={"file": ("notes.xy", text.encode())})
        assert reply.status_code == 200 and reply.json()["status"] == "error", text
