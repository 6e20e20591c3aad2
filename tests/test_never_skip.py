"""A skipped test fails the run: the hooks in conftest.py, tried on a test
file that skips in each way pytest allows."""
import os
import subprocess
import sys

from support import REPO

SKIPPING = '''
import pytest

def test_skip_call():
    pytest.skip("redis-server is not installed")

@pytest.mark.skipif(True, reason="solve-field is not installed")
def test_skipif():
    pass

def test_passes():
    pass
'''


def _pytest(folder, name):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(folder), str(folder / name)],
        cwd=folder, env={"PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stdout.strip().splitlines()[-1]


def test_every_kind_of_skip_fails_the_run(tmp_path):
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    code, out, summary = _pytest(tmp_path, "test_skipping.py")
    assert code == 1 and "1 failed, 1 passed, 1 error" in summary, out
    assert "Skipped: redis-server is not installed" in out, out
    assert "Skipped: solve-field is not installed" in out, out

    (tmp_path / "test_importorskip.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_here')\n")
    code, out, summary = _pytest(tmp_path, "test_importorskip.py")
    assert code != 0 and "1 error" in summary and "skipped" not in summary, out
    assert "skipped, which counts as a failure here" in out, out
