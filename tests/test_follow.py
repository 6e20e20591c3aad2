"""For a person at a terminal: `wait` progress on a pseudo-terminal, `logs --follow`."""
import json
import os
import pty
import select
import subprocess
import threading
import time


def run_with_tty_stderr(env, args, timeout=60):
    """Run ``astro-jobs ARGS`` with stderr on a pseudo-terminal and stdout on a pipe;
    (exit code, stdout, everything the terminal received)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(["astro-jobs", *args], env=env, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    stdout, _ = proc.communicate(timeout=10)
    return proc.returncode, stdout.decode(), screen.decode(errors="replace")


def test_wait_on_a_terminal_shows_the_stage_changing(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("stages"))
    code, stdout, screen = run_with_tty_stderr(env, ["wait", "--job-id", job_id,
                                                     "--timeout", "60"])
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["state"] == "done"  # JSON only
    frames = [frame.replace("\x1b[K", "").strip() for frame in screen.split("\r")]
    frames = [frame for frame in frames if frame]
    stages = []
    for frame in frames:
        for stage in ("reading", "detecting_stars", "solving", "annotating"):
            if f"· {stage} ·" in frame and stage not in stages:
                stages.append(stage)
    assert len(stages) >= 3, frames
    assert stages == sorted(stages, key=["reading", "detecting_stars", "solving",
                                         "annotating"].index)
    assert any("processing · " in frame and "attempt 1/3" in frame for frame in frames)
    assert frames[-1].startswith(f"{job_id[:8]}  done · ")


def test_wait_without_a_terminal_writes_nothing_to_stderr(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("stages"))
    code, out, err = env.run("wait", "--job-id", job_id, "--timeout", "60")
    assert code == 0 and out["state"] == "done" and err == ""


def test_logs_follow_streams_until_the_job_ends(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("slow25"))
    env.wait_for(job_id, lambda s: s["state"] == "processing", 20, "processing")
    follower = subprocess.Popen(["astro-jobs", "logs", "--job-id", job_id, "--follow"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    guard = threading.Timer(30, follower.kill)  # a follower that never ends fails, not hangs
    guard.start()
    first = follower.stdout.readline().decode()
    assert first.startswith("--- ") and "attempt 1 on" in first
    assert env.status(job_id)["state"] == "processing"  # streamed while it runs
    rest = follower.stdout.read()  # not communicate(): it would skip what readline buffered
    guard.cancel()
    assert follower.wait(30) == 0 and follower.stderr.read() == b""
    assert env.status(job_id)["state"] == "done"
    log = first + rest.decode()
    assert "stand-in extractor: mode slow25" in log
    assert "extractor exited with code 0" in log
    assert log == env.run("logs", "--job-id", job_id, check_json=False)[1]


def test_logs_follow_of_a_finished_job_prints_the_tail_and_ends(env, images, consumers):
    consumers(env)
    job_id = env.submit(images("ok"))
    env.wait(job_id)
    code, out, _ = env.run("logs", "--job-id", job_id, "--follow", "--tail", "1",
                           check_json=False, timeout=10)
    assert code == 0 and out.count("\n") == 1 and "extractor exited" in out
    code, out, _ = env.run("logs", "--job-id", "0" * 32, "--follow")
    assert (code, out["code"]) == (3, "job_not_found")
