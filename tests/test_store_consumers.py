"""store/consumers.py: the consumers' registry files and who is alive, on
real files (tests/test_consumers.py runs real consumers)."""
import os
import subprocess
import sys
import time

import pytest

from astro_jobs.store import consumers
from astro_jobs.timefmt import iso


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("ASTRO_JOBS_NODE", "node-a")
    return tmp_path / "jobs"


def entry(pid, age, node="node-a", period=10):
    return {"node": node, "pid": pid, "instance": "x", "workers": 1,
            "last_seen": iso(time.time() - age), "heartbeat_s": period, "beat": 1}


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_write_creates_the_folder_and_lists_alive_ones_first(jobs):
    consumers.write("aaaaaa000001", entry(dead_pid(), 1))
    consumers.write("aaaaaa000002", entry(os.getpid(), 1))
    consumers.write("aaaaaa000003", entry(12345, 25, node="node-b"))  # 3 beats + 1 s
    consumers.write("aaaaaa000004", entry(12345, 35, node="node-b"))
    found = {c["instance"]: c for c in consumers.list_consumers()}
    assert {i: c["alive"] for i, c in found.items()} == {
        "aaaaaa000001": False, "aaaaaa000002": True, "aaaaaa000003": True,
        "aaaaaa000004": False}
    assert [c["alive"] for c in consumers.list_consumers()] == [True, True, False, False]
    assert consumers.alive_count() == 2
    assert (jobs / "consumers").stat().st_mode & 0o007 == 0


def test_a_day_old_file_is_forgotten_and_junk_is_skipped(jobs):
    consumers.write("aaaaaa000001", entry(12345, 90_000, node="node-b"))
    (jobs / "consumers" / "bbbbbb000001.json").write_text("{half")
    (jobs / "consumers" / "notes.txt").write_text("hi")
    assert consumers.list_consumers() == []
    assert sorted(os.listdir(jobs / "consumers")) == ["bbbbbb000001.json", "notes.txt"]


def test_remove_is_idempotent(jobs):
    consumers.write("aaaaaa000001", entry(os.getpid(), 0))
    consumers.remove("aaaaaa000001")
    consumers.remove("aaaaaa000001")
    assert consumers.read_all() == []
