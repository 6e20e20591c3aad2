"""The README's code blocks, run verbatim: the README cannot drift from what works.

Each block is taken from README.md as it is; a block this file does not
know how to run fails the test, so no block goes unexercised.
"""
import json
import os
import re
import signal
import subprocess

import pytest
from PIL import Image

from support import ASTRO_JOBS, REPO, SAMPLE_IMAGE, python_snippet

README = REPO / "README.md"
STOCK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOLVED = re.compile(r'"solved":\s*true')


def blocks():
    """(language, code) of every fenced block of the README, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", README.read_text(), re.M | re.S)


def block(marker):
    """The one block whose code holds ``marker``."""
    found = [code for _, code in blocks() if marker in code]
    assert len(found) == 1, f"{len(found)} README blocks hold {marker!r}"
    return found[0]


MARKERS = {"make demo": "sh", "python3 -m venv": "sh", "def start_analysis": "python",
           "astro_jobs.cancel(": "python"}


def test_every_block_is_run_by_a_test_below():
    assert sorted((lang, next((m for m in MARKERS if m in code), None))
                  for lang, code in blocks()) == sorted((lang, m) for m, lang in MARKERS.items())


def test_the_readme_stays_inside_the_repository_and_short():
    text = README.read_text()
    assert "../" not in text and "/work/" not in text
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith(("http://", "https://")):
            assert (REPO / target).exists(), target
    assert "## Quick start in a shell" in text


def test_the_two_commands(tmp_path):
    code = block("make demo")
    commands = [line.split("#")[0].strip() for line in code.splitlines()]
    assert commands == ["make demo", "make test"]
    # `make test` is what runs this file: here only what it would run.
    plan = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, PATH=STOCK_PATH), check=True).stdout
    assert "install-deps.sh --test" in plan and "ruff check ." in plan
    assert re.search(r"/\.venv/bin/python -m pytest", plan), plan
    env = dict(os.environ, PATH=STOCK_PATH, JOBS_DIR=str(tmp_path / "demo-jobs"))
    for name in list(env):
        if name.startswith("ASTRO_") or name in ("VIRTUAL_ENV", "PYTHONPATH"):
            del env[name]
    demo = subprocess.run(["make", "demo"], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Traceback" not in demo.stderr, demo.stderr[-3000:]
    assert SOLVED.search(demo.stdout) and '"ra_hms"' in demo.stdout, demo.stdout[-2000:]


def test_the_shell_quick_start(tmp_path):
    """A newcomer's shell: a fresh venv in $HOME, the stock PATH, the clone as cwd."""
    env = {"HOME": str(tmp_path), "PATH": STOCK_PATH, "LANG": "C.UTF-8"}
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block("python3 -m venv")],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        with_leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True)
        if with_leftovers.returncode == 0:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert SOLVED.search(out), out[-2000:]
    doctor = json.loads(next(line for line in out.splitlines() if '"checks"' in line))
    assert doctor["ok"] is True, doctor
    assert (tmp_path / "astro-jobs-venv" / "bin" / "huey_consumer").exists()


@pytest.fixture
def solving(env, consumers):
    """A consumer with the bundled extractor, as in production."""
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env)
    return env


def test_the_backend_example(solving, tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not pixels\n" * 10)
    starless = tmp_path / "flat.png"  # a real picture with no star in it: done, not solved
    Image.new("L", (640, 480), 90).save(starless)
    # The block verbatim, then its two settings pointed at this test's set-up.
    code = block("def start_analysis") + f"""
ASTRO_JOBS = {ASTRO_JOBS!r}
JOBS_DIR = {str(solving.jobs_dir)!r}
import time
job_id = start_analysis({str(SAMPLE_IMAGE)!r})
deadline = time.monotonic() + 300
while "ra" not in (answer := poll(job_id)) and time.monotonic() < deadline:
    time.sleep(0.5)
unsolvable = start_analysis({str(starless)!r})
while (unsolved := poll(unsolvable)).get("state") in ("queued", "processing") \\
        and time.monotonic() < deadline:
    time.sleep(0.5)
try:
    start_analysis({str(not_an_image)!r})
except ValueError as exc:
    refused = str(exc)
print(json.dumps({{"answer": answer, "unsolved": unsolved, "refused": refused}}))
"""
    got = json.loads(python_snippet(code, solving, timeout=400).splitlines()[-1])
    assert abs(got["answer"]["ra"] - 187.18) < 1 and abs(got["answer"]["dec"] - 56.71) < 1
    assert list(got["unsolved"]) == ["not_solved"], got["unsolved"]
    assert "stars were found" in got["unsolved"]["not_solved"]
    assert "not" in got["refused"] and "image" in got["refused"]


def test_the_in_process_example(solving):
    out = python_snippet(block("astro_jobs.cancel("), solving, timeout=400).splitlines()
    assert out[0] in ("queued", "processing")
    ra, dec = map(float, out[1].split())
    assert abs(ra - 187.18) < 1 and abs(dec - 56.71) < 1
    assert out[2:] == ["cancelled", "job_cancelled"]
