"""JOBS_DIR on a filesystem that fills up: clear errors, nothing half-written,
and the queue works again once there is room.

A 4 MB tmpfs (the tests run as root, as CI does; without mount rights the
test fails, it does not skip).
"""
import json
import os
import subprocess

import pytest


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"cannot mount a tmpfs (run as root): {proc.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def _fill(path):
    """Write ``path`` until the filesystem has no room left."""
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return path


def _statuses(jobs_dir):
    """Every status.json, parsed: a truncated one fails here."""
    return {p.parent.name: json.loads(p.read_text()) for p in jobs_dir.glob("*/status.json")}


def test_a_full_disk_fails_cleanly_and_the_queue_recovers(env, images, consumers, small_disk):
    env["JOBS_DIR"] = str(small_disk / "jobs")
    consumers(env)
    assert env.wait(env.submit(images("ok")))["state"] == "done"

    # A running job fills the disk: it ends in error, saying so. Every poll
    # of its status (the CLI, every 50 ms) found a whole status.json.
    job_id = env.submit(images("fill"))
    final = env.wait_for(job_id, lambda s: s["state"] not in ("queued", "processing"),
                         timeout=60, what="the filling job to end")
    assert final["state"] == "error", final
    assert "filesystem of JOBS_DIR is full" in final["error"], final["error"]
    assert not (env.jobs_dir / job_id / "output" / "fill.bin").exists()

    # Submitting to a full disk: disk_full, and nothing left behind.
    filler = _fill(small_disk / "filler")
    before = sorted(os.listdir(env.jobs_dir))
    code, out, _ = env.run("submit", "--image", images("ok", "-full"))
    assert code == 1 and out["code"] == "disk_full", out
    assert sorted(os.listdir(env.jobs_dir)) == before

    # Room again: the queue works as before.
    filler.unlink()
    later = env.submit(images("ok", "-later"))
    assert env.wait(later)["state"] == "done"
    states = {job: status["state"] for job, status in _statuses(env.jobs_dir).items()}
    assert sorted(states.values()) == ["done", "done", "error"]
