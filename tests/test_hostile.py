"""Hostile files (tiny, made here by harness/hostile_files.py) against the
real CLI, a real ``astro-jobs serve`` and the bundled extractor: each is
refused with its code and leaves nothing behind; an image whose header is
honest but too big for the memory limit ends its job ``error`` with one
sentence. How fast each refusal comes is measured by bench/hostile.py."""
import json
import os
import subprocess
import sys

import httpx
import pytest

from astro_jobs.intake import starlists
from astro_jobs.runner.judge import OUT_OF_MEMORY
from harness.hostile_files import BLOCK, CASES, plain_png, xyls

from support import Env, WebServer

IDS = [case.name for case in CASES]


def leftovers(env):
    """Anything in JOBS_DIR but its databases: job or .incoming-* folders."""
    if not env.jobs_dir.exists():
        return []
    return [p.name for p in env.jobs_dir.iterdir() if ".sqlite3" not in p.name]


def written(tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    return path


def upload_alone(env, name, data):
    """nova's reply to one upload, on a server started for it."""
    web = WebServer(env)
    try:
        session = httpx.post(web.url + "/api/login",
                             data={"request-json": json.dumps({"apikey": "x"})}).json()["session"]
        return httpx.post(web.url + "/api/upload", timeout=60,
                          data={"request-json": json.dumps({"session": session})},
                          files={"file": (name, data)})
    finally:
        web.stop()


def submit_args(case, path):
    if case.kind == "sources":
        return ["submit", "--sources", path, "--width", "1000", "--height", "1000"]
    return ["submit", "--image", path]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_submit_refuses_each_hostile_file_and_leaves_nothing(env, tmp_path, case):
    code, out, _ = env.run(*submit_args(case, written(tmp_path, case)), timeout=30)
    assert (code, out["ok"], out["code"]) == (2, False, case.code), out
    assert out["error"]
    assert leftovers(env) == []


def test_the_server_answers_each_hostile_upload_with_nova_error(env, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    web = WebServer(Env(env, TMPDIR=str(spool)))
    try:
        session = httpx.post(web.url + "/api/login",
                             data={"request-json": json.dumps({"apikey": "x"})}).json()["session"]
        for case in CASES:
            reply = httpx.post(web.url + "/api/upload", timeout=30,
                               data={"request-json": json.dumps({"session": session})},
                               files={"file": (case.name, case.data)})
            doc = reply.json()
            assert (reply.status_code, doc["status"]) == (200, "error"), (case.name, doc)
            assert doc["code"] in case.upload_codes() and doc["errormessage"], (case.name, doc)
            assert list(spool.iterdir()) == [], case.name
        assert leftovers(env) == []
        # Still answering, and still taking a real image afterwards.
        assert httpx.get(web.url + "/api/jobs/1", timeout=10).status_code in (200, 404)
    finally:
        web.stop()
    assert "Traceback" not in web.output()


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "image"],
                         ids=[c.name for c in CASES if c.kind == "image"])
def test_the_extractor_refuses_what_submit_refuses(env, tmp_path, case):
    # Run directly, the extractor reads the header with submit's own code first.
    proc = subprocess.run([sys.executable, "-m", "astro_jobs.extract", "--image",
                           written(tmp_path, case), "--output", tmp_path / "out" / "result.json"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("astro-extract: cannot read image")


@pytest.mark.parametrize("warm", ["1", "0"], ids=["warm", "cold"])
def test_an_image_too_big_for_the_memory_limit_ends_error_with_a_sentence(env, tmp_path,
                                                                          consumers, warm):
    # Both paths: a job forked by the warm extractor and a cold one.
    # 144 Mpx of grey zeros: 140 KB on disk, an honest header under the pixel
    # limit, and far more memory decoded than the limit below allows.
    image = tmp_path / "honest-but-huge.png"
    image.write_bytes(plain_png(12000, 12000))
    del env["ASTRO_EXTRACT_BIN"]  # the bundled extractor
    consumers(env, workers=1, ASTRO_JOBS_MAX_MEMORY_MB="500", ASTRO_JOBS_WARM_SOLVER=warm)
    job_id = env.submit(image)
    status = env.wait(job_id, timeout=120)
    assert status["state"] == "error", status
    assert status["error"] == OUT_OF_MEMORY
    assert "Traceback" not in json.dumps(status)
    assert not os.path.exists(env.jobs_dir / job_id / "output" / "result.json")


def test_the_operator_page_decodes_no_huge_input_for_a_thumbnail(env, tmp_path):
    # A queued job's card shows its input; a 144 Mpx PNG would be decoded whole
    # in the server's memory, so it gets no picture, and a small one still does.
    huge, small = tmp_path / "huge.png", tmp_path / "small.png"
    huge.write_bytes(plain_png(12000, 12000))
    small.write_bytes(plain_png(64, 48))
    jobs = {name: env.submit(path) for name, path in (("huge", huge), ("small", small))}
    web = WebServer(env)
    try:
        def thumbnail(job_id):
            return httpx.get(f"{web.url}/jobs/{job_id}/files/thumbnail", timeout=30)
        assert thumbnail(jobs["huge"]).status_code == 404
        reply = thumbnail(jobs["small"])
        assert reply.status_code == 200 and reply.content[:2] == b"\xff\xd8"
    finally:
        web.stop()


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_an_xyls_with_a_non_finite_position_is_refused_by_the_server(env, tmp_path, bad):
    """nova sizes a star list without image_width from its largest x and y:
    a NaN or an infinity there is the client's error, not the server's."""
    import numpy as np
    from astropy.io import fits

    x = np.array([10.0, float(bad), 30.0], dtype=np.float32)
    table = fits.BinTableHDU.from_columns([fits.Column("X", "E", array=x),
                                           fits.Column("Y", "E", array=x[::-1].copy())])
    path = tmp_path / "bad.xyls"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    reply = upload_alone(env, "bad.xyls", path.read_bytes())
    assert reply.status_code == 200, (reply.status_code, reply.text)
    assert reply.json()["status"] == "error", reply.json()
    assert "finite" in reply.json()["errormessage"], reply.json()
    assert leftovers(env) == []


def test_a_star_list_over_the_star_limit_is_refused_by_submit_and_the_server(env, tmp_path):
    # Honest headers, a million and one rows: refused before any is read whole.
    rows = starlists.MAX_STARS + 1
    data = xyls(("NAXIS", 2), ("NAXIS1", 8), ("NAXIS2", rows), ("TFIELDS", 2),
                ("TTYPE1", "'X'"), ("TFORM1", "'E'"), ("TTYPE2", "'Y'"), ("TFORM2", "'E'"))
    path = tmp_path / "many.xyls"
    path.write_bytes(data[:-BLOCK] + b"\0" * (8 * rows + (-8 * rows) % BLOCK))
    code, out, _ = env.run("submit", "--sources", path, "--width", "100", "--height", "100")
    assert (code, out["code"]) == (2, "too_many_sources"), out
    reply = upload_alone(env, "many.xyls", path.read_bytes())
    assert reply.json()["status"] == "error", reply.json()
    assert leftovers(env) == []
