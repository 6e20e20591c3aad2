"""`astro-jobs serve` solving for real: the bundled extractor (solve-field and
the Tycho-2 indexes) behind nova's API, driven by astroquery's AstrometryNet
and by nova's protocol over HTTPS. One server pair and one consumer serve the
module; the corpus image (apod4, 33 degrees wide) solves in seconds."""
import csv
import json
import os
import ssl
import subprocess

import httpx
import pytest
from astropy.io import fits

from support import (
    CORPUS,
    REPO,
    Consumer,
    Env,
    WebServer,
    self_signed_certificate,
    separation_deg,
    wait_until,
)

IMAGE = CORPUS / "apod4.jpg"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())["apod4.jpg"]
STARS = REPO / "tests" / "data" / "sample" / "apod4-stars.csv"
SOLVE_TIMEOUT = 240


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A consumer with the bundled extractor, an HTTP and an HTTPS server on one JOBS_DIR."""
    root = tmp_path_factory.mktemp("web-solve")
    env = Env(os.environ)
    for name in list(env):
        if name.startswith("ASTRO_JOBS_") or name in ("JOBS_DIR", "ASTRO_EXTRACT_BIN"):
            del env[name]
    env.update(JOBS_DIR=str(root / "jobs"), PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(root / "tmp"))
    (root / "tmp").mkdir()
    cert, key = self_signed_certificate(root)
    consumer = Consumer(env, workers=2)
    plain = WebServer(env)
    secure = WebServer(env, "--cert", str(cert), "--key", str(key))
    yield {"env": env, "http": plain.url, "https": secure.url, "cert": str(cert)}
    for server in (plain, secure):
        server.stop()
    consumer.stop()


def assert_centre(ra, dec):
    error = separation_deg(ra, dec, EXPECTED["ra"], EXPECTED["dec"])
    assert error < 0.02 * EXPECTED["width"], (ra, dec, error)


def astrometry_net(url):
    from astroquery import cache_conf
    from astroquery.astrometry_net import AstrometryNetClass

    cache_conf.cache_active = False
    client = AstrometryNetClass()
    client.URL, client.API_URL = url, url + "/api"
    client.api_key = "any key: no ASTRO_JOBS_API_KEY is set"
    return client


def test_astroquery_solves_an_image_upload(stack):
    client = astrometry_net(stack["http"])
    header = client.solve_from_image(str(IMAGE), force_image_upload=True,
                                     solve_timeout=SOLVE_TIMEOUT, verbose=False)
    assert header, "astroquery reported a failed solve"
    assert_centre(*_header_centre(header))


def test_astroquery_solves_a_star_list(stack):
    with open(STARS, newline="") as handle:
        rows = list(csv.DictReader(handle))
    client = astrometry_net(stack["http"])
    header = client.solve_from_source_list([float(r["x"]) for r in rows],
                                           [float(r["y"]) for r in rows], 719, 507,
                                           solve_timeout=SOLVE_TIMEOUT, verbose=False)
    assert header, "astroquery reported a failed solve"
    assert_centre(*_header_centre(header))


def _header_centre(header):
    """The sky position of the image centre, from astroquery's WCS header."""
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning
    warnings.simplefilter("ignore", FITSFixedWarning)  # a header-only file: NAXIS = 0
    ra, dec = WCS(header).all_pix2world([[header["IMAGEW"] / 2 + 0.5,
                                          header["IMAGEH"] / 2 + 0.5]], 1)[0]
    return float(ra), float(dec)


def test_nova_protocol_over_https_and_http(stack):
    trust = ssl.create_default_context(cafile=stack["cert"])
    https = httpx.Client(base_url=stack["https"], verify=trust, timeout=30)
    session = https.post("/api/login", data={"request-json": json.dumps(
        {"apikey": "k"})}).json()["session"]
    with open(IMAGE, "rb") as handle:
        doc = https.post("/api/upload/", data={"request-json": json.dumps(
            {"session": session, "scale_units": "degwidth", "scale_type": "ev",
             "scale_est": 33, "scale_err": 20})}, files={"file": ("apod4.jpg", handle)}).json()
    assert doc["status"] == "success", doc

    def finished():
        sub = https.get(f"/api/submissions/{doc['subid']}").json()
        return sub if sub["processing_finished"] != "None" else None
    sub = wait_until(finished, SOLVE_TIMEOUT, 0.5)
    assert sub and sub["job_calibrations"] == [[doc["subid"], doc["subid"]]], sub
    job = sub["jobs"][0]
    for client in (https, httpx.Client(base_url=stack["http"], timeout=30)):
        assert client.post(f"/api/jobs/{job}").json() == {"status": "success"}
        cal = client.get(f"/api/jobs/{job}/calibration/").json()
        assert_centre(cal["ra"], cal["dec"])
        assert abs(cal["width_arcsec"] / 3600 - EXPECTED["width"]) < 0.05 * EXPECTED["width"]
        info = client.get(f"/api/jobs/{job}/info").json()
        assert info["status"] == "success" and "Ursa Major" in info["objects_in_field"]
        assert info["calibration"]["orientation"] == cal["orientation"]
        wcs = client.get(f"/wcs_file/{job}")
        assert wcs.status_code == 200 and wcs.content.startswith(b"SIMPLE")
    _check_nova_orientation(wcs.content, cal, stack["env"].jobs_dir.parent)
    assert https.get(f"/annotated_display/{job}").content.startswith(b"\x89PNG")
    assert https.get(f"/api/jobs/{job}/annotations").json()["annotations"]
    assert "solve" in https.get(f"/joblog/{job}").text
    # nova's new-image.fits for a JPEG: its pixels as FITS, rows as stored, the solution
    # in the header: the WCS maps a star's pixel to the same sky as wcs_file.
    new = https.get(f"/new_fits_file/{job}")
    assert new.headers["content-type"] == "application/fits"
    path = stack["env"].jobs_dir.parent / "new-image.fits"
    path.write_bytes(new.content)
    with fits.open(path) as hdus:
        assert hdus[0].data.shape == (507, 719) and hdus[0].data.dtype.name == "uint8"
        header = hdus[0].header
    solved = fits.Header.fromstring(wcs.content.decode("ascii"))
    for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD2_2"):
        assert header[key] == solved[key], key
    spool = stack["env"].jobs_dir.parent / "tmp"  # the server's TMPDIR: built, sent, removed
    assert wait_until(lambda: not list(spool.glob("astro-jobs-new-*")), 10), list(spool.iterdir())


def _check_nova_orientation(wcs_bytes, cal, folder):
    """nova's numbers, from astrometry.net's own wcsinfo on the WCS we served.

    nova flips the orientation of JPEG/PNG input (rows run top-down) and
    reports parity 1.0 for a non-negative CD determinant.
    """
    info = wcsinfo(wcs_bytes, folder)
    assert cal["parity"] == (1.0 if float(info["det"]) >= 0 else -1.0)
    expected = (180 - float(info["orientation"])) % 360
    assert abs((cal["orientation"] - expected + 180) % 360 - 180) < 0.01, (cal, expected)
    assert fits.Header.fromstring(wcs_bytes.decode("ascii", "replace"))["NAXIS"] == 0


def test_fits_upload_gets_a_new_fits_file_and_unflipped_orientation(stack, tmp_path):
    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(IMAGE).convert("L"), dtype=np.uint8)[::-1]  # rows bottom-up
    fits.writeto(tmp_path / "apod4.fits", grey)
    client = httpx.Client(base_url=stack["http"], timeout=30)
    session = client.post("/api/login", data={"request-json": json.dumps(
        {"apikey": "k"})}).json()["session"]
    with open(tmp_path / "apod4.fits", "rb") as handle:
        subid = client.post("/api/upload", data={"request-json": json.dumps(
            {"session": session})}, files={"file": handle}).json()["subid"]

    def finished():
        status = client.get(f"/api/jobs/{subid}").json()["status"]
        return status if status not in ("processing", "solving") else None
    assert wait_until(finished, SOLVE_TIMEOUT, 0.5) == "success"
    cal = client.get(f"/api/jobs/{subid}/calibration").json()
    assert_centre(cal["ra"], cal["dec"])
    new = client.get(f"/new_fits_file/{subid}")
    assert new.status_code == 200
    path = tmp_path / "new.fits"
    path.write_bytes(new.content)
    with fits.open(path) as hdus:
        assert hdus[0].header["CTYPE1"].startswith("RA---TAN")
        assert hdus[0].data.shape == grey.shape
    # FITS rows run bottom-up: nova reports the WCS's own orientation, unflipped.
    info = wcsinfo(client.get(f"/wcs_file/{subid}").content, tmp_path)
    assert abs((cal["orientation"] - float(info["orientation"]) + 180) % 360 - 180) < 0.01


def wcsinfo(wcs_bytes, folder):
    """astrometry.net's own reading of a WCS file (its sip.c), as a dict of strings."""
    path = folder / "served.wcs"
    path.write_bytes(wcs_bytes)
    out = subprocess.run(["wcsinfo", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split(None, 1) for line in out.splitlines() if " " in line)
