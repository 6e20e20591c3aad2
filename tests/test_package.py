"""A releasable package: sdist and wheel pass twine, and a plain install of the
wheel (no extras, a fresh venv of the system Python) solves a corpus image."""
import json
import shutil
import subprocess
import sys
import zipfile

import pytest

import astro_jobs

from support import CORPUS, REPO, Consumer, separation_deg

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
IMAGE = "apod2.jpg"  # Orion, 4.5 degrees: solves blind in seconds


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # The wheel is built from the sdist: that proves the sdist is complete.
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    return out


def test_sdist_and_wheel_pass_twine(dist):
    files = sorted(p.name for p in dist.iterdir())
    version = astro_jobs.__version__
    assert files == [f"astro_jobs-{version}-py3-none-any.whl", f"astro_jobs-{version}.tar.gz"]
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           *map(str, dist.iterdir())], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(next(dist.glob("*.whl"))) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"astro_jobs-{version}.dist-info/METADATA").decode()
    assert f"astro_jobs-{version}.dist-info/licenses/LICENSE" in names
    assert "astro_jobs/extract/__main__.py" in names and not any("tests/" in n for n in names)
    operator = REPO / "astro_jobs" / "web" / "operator"
    shipped = sorted(str(p.relative_to(REPO)) for folder in ("templates", "static")
                     for p in (operator / folder).iterdir())
    assert shipped and [n for n in shipped if n not in names] == []  # the page's files
    assert f"Version: {version}\n" in metadata and "License-Expression: MIT" in metadata
    assert "Requires-Python: >=3.10" in metadata and "Project-URL: " in metadata
    assert "Classifier: Programming Language :: Python :: 3.10" in metadata
    for required in ("huey", "click", "filelock", "numpy", "astropy", "Pillow"):
        assert f"Requires-Dist: {required}>=" in metadata, required


def test_a_plain_install_of_the_wheel_solves_a_corpus_image(dist, tmp_path, env):
    venv = tmp_path / "venv"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True)
    wheel = next(dist.glob("*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    version = subprocess.run([str(venv / "bin" / "astro-jobs"), "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"astro-jobs, version {astro_jobs.__version__}"

    del env["ASTRO_EXTRACT_BIN"]  # the bundled extractor, from the wheel
    env.update(ASTRO_JOBS_BIN=str(venv / "bin"), PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    consumer = Consumer(env)
    try:
        # The installed CLI, not this venv's: everything comes from the wheel.
        submit = subprocess.run([str(venv / "bin" / "astro-jobs"), "submit", "--image",
                                 str(CORPUS / IMAGE)], env=env, capture_output=True,
                                text=True, check=True)
        job_id = json.loads(submit.stdout)["job_id"]
        status = env.wait(job_id, timeout=240)
    finally:
        consumer.stop()
    assert status["state"] == "done", (env.jobs_dir / job_id / "task.log").read_text()
    assert status["worker"]["pid"] == consumer.pid
    result = json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())
    expected = json.loads((CORPUS / "expected.json").read_text())[IMAGE]
    assert result["solved"] is True
    off = separation_deg(result["calibration"]["ra"], result["calibration"]["dec"],
                         expected["ra"], expected["dec"])
    assert off < 0.01 * expected["width"], result["calibration"]
