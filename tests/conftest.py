"""Shared fixtures: real consumers, real SQLite, the real CLI, no mocks.

Consumers are started with the Procfile's own worker command, so the tests
exercise what a deployment runs.
"""
import json
import os
import shlex
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STAND_IN = REPO / "tests" / "stand_in_extractor.py"
SAMPLE_IMAGE = REPO / "tests" / "data" / "sample" / "apod4.jpg"
CORPUS = Path(os.environ.get("ASTRO_JOBS_CORPUS") or REPO.parent / "shared" / "corpus")


def procfile_worker_command():
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith("worker:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("Procfile has no worker line")


def make_png(path, width=8, height=8):
    """A valid grey PNG, written without any imaging library."""
    raw = b"".join(b"\0" + bytes([128]) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


class Env(dict):
    """Environment of the CLI and consumers of one test."""

    def run(self, *args, timeout=60, check_json=True):
        """Run ``astro-jobs ARGS``; return (exit code, parsed JSON or text, stderr)."""
        proc = subprocess.run(["astro-jobs", *map(str, args)], env=self, capture_output=True,
                              text=True, timeout=timeout)
        assert "Traceback" not in proc.stderr, proc.stderr
        out = proc.stdout
        if check_json:
            lines = out.strip().splitlines()
            assert len(lines) == 1, f"expected one JSON line, got {out!r}"
            out = json.loads(lines[0])
            assert isinstance(out, dict)
            assert out["ok"] is (proc.returncode == 0), out
        return proc.returncode, out, proc.stderr

    def submit(self, image, *extra):
        code, out, err = self.run("submit", "--image", image, *extra)
        assert code == 0, (out, err)
        return out["job_id"]

    def status(self, job_id):
        code, out, _ = self.run("status", "--job-id", job_id)
        assert code == 0, out
        return out

    def wait(self, job_id, timeout=60):
        code, out, _ = self.run("wait", "--job-id", job_id, "--timeout", timeout,
                                timeout=timeout + 30)
        assert code == 0, out
        return out

    def wait_for(self, job_id, predicate, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(job_id)
            if predicate(status):
                return status
            time.sleep(0.05)
        raise AssertionError(f"job {job_id}: {what} not reached in {timeout} s: {status}")

    @property
    def jobs_dir(self):
        return Path(self["JOBS_DIR"])

    def job_folders(self):
        return sorted(p.name for p in self.jobs_dir.iterdir() if p.is_dir()) \
            if self.jobs_dir.exists() else []

    def consumer(self, workers=2, **extra_env):
        return Consumer(Env(self, **extra_env), workers)


class Consumer:
    """A real ``huey_consumer`` started with the Procfile's command."""

    def __init__(self, env, workers=2, log_path=None):
        self.env = Env(env, ASTRO_JOBS_WORKERS=str(workers))
        self.log_path = log_path or env.jobs_dir.parent / f"consumer-{time.monotonic_ns()}.log"
        env.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        # exec: the consumer itself is the child, so signals reach it directly.
        self.proc = subprocess.Popen(["bash", "-c", "exec " + procfile_worker_command()],
                                     cwd=REPO, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_started()

    @property
    def pid(self):
        return self.proc.pid

    def wait_started(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"Huey consumer started" in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"consumer exited: {self.log_path.read_text()}")
            time.sleep(0.02)
        raise AssertionError("consumer did not start")

    def send(self, signum):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, signum=signal.SIGINT, timeout=30):
        self.send(signum)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill(self):
        self.send(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def output(self):
        return self.log_path.read_text(errors="replace")


def processes_with_env(marker):
    """Pids of live processes whose environment holds ``marker``."""
    found = []
    needle = marker.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def wait_until(predicate, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def env(tmp_path):
    """CLI environment with a fresh JOBS_DIR and the stand-in extractor."""
    environment = Env(os.environ)
    for name in list(environment):
        if name.startswith("ASTRO_JOBS_") or name in ("JOBS_DIR", "ASTRO_EXTRACT_BIN"):
            del environment[name]
    environment.update(JOBS_DIR=str(tmp_path / "jobs"), ASTRO_EXTRACT_BIN=str(STAND_IN),
                       ASTRO_JOBS_HEARTBEAT="0.5", PYTHONDONTWRITEBYTECODE="1")
    return environment


@pytest.fixture
def images(tmp_path):
    """Factory: a small valid PNG whose name picks the stand-in's behaviour."""
    folder = tmp_path / "uploads"
    folder.mkdir()

    def make(mode, suffix=""):
        return make_png(folder / f"{mode}{suffix}.png")
    return make


@pytest.fixture
def consumers():
    """Start consumers through this; each is stopped (or killed) after the test."""
    started = []

    def start(env, workers=2, **extra_env):
        consumer = env.consumer(workers, **extra_env)
        started.append(consumer)
        return consumer
    yield start
    for consumer in started:
        if consumer.proc.poll() is None:
            consumer.send(signal.SIGKILL)
            consumer.proc.wait(10)
        if not consumer.log.closed:
            consumer.log.close()


def python_snippet(code, env):
    """Run Python code in a fresh interpreter with ``env``; return its stdout."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


__all__ = ["Env", "Consumer", "make_png", "processes_with_env", "wait_until",
           "python_snippet", "shlex"]
