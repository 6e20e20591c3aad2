"""What the tests and the benchmarks share: real consumers, the real CLI,
a real redis-server, and small images made without an imaging library.

No pytest here, so bench/ scripts can import it too. Consumers are started
with the Procfile's own worker command: what a deployment runs.
"""
import calendar
import glob
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAND_IN = REPO / "tests" / "stand_in_extractor.py"
SAMPLE_IMAGE = REPO / "tests" / "data" / "sample" / "apod4.jpg"
# The sky images with expected.json (astrometry.net's demo set, see CREDITS).
CORPUS = REPO / "tests" / "data" / "corpus"
# The programs (astro-jobs, huey_consumer, honcho) of the venv that runs the
# tests, whatever else PATH holds: the Procfile finds them as ASTRO_JOBS_BIN.
BIN = Path(sys.prefix) / "bin"
ASTRO_JOBS = str(BIN / "astro-jobs")


def separation_deg(ra1, dec1, ra2, dec2):
    """Angle between two sky positions, all in degrees."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


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
        proc = subprocess.run([ASTRO_JOBS, *map(str, args)], env=self, capture_output=True,
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

    def watch_stages(self, job_id, timeout=30):
        """Poll until the job is terminal: (final status, stages seen, in order)."""
        seen = []

        def terminal(status):
            if status["stage"] and status["stage"] not in seen:
                seen.append(status["stage"])
            return status["state"] in ("done", "error", "cancelled")
        return self.wait_for(job_id, terminal, timeout, "a terminal state"), seen

    def switch_input(self, job_id, name):
        """Point a job at a stand-in image of another behaviour (its next run
        behaves as ``name`` says)."""
        folder = self.jobs_dir / job_id
        status = json.loads((folder / "status.json").read_text())
        os.rename(folder / "input" / status["input"]["file"], folder / "input" / name)
        status["input"]["file"] = name
        (folder / "status.json").write_text(json.dumps(status))

    @property
    def jobs_dir(self):
        return Path(self["JOBS_DIR"])

    def job_folders(self):
        """Names of the job folders (not the consumer registry)."""
        return sorted(p.name for p in self.jobs_dir.iterdir()
                      if p.is_dir() and re.fullmatch("[0-9a-f]{32}", p.name)) \
            if self.jobs_dir.exists() else []

    def consumer(self, workers=2, **extra_env):
        return Consumer(Env(self, **extra_env), workers)

    def statuses(self, job_ids):
        """status.json of each job, read straight from its folder."""
        return [json.loads((self.jobs_dir / job_id / "status.json").read_text())
                for job_id in job_ids]

    def wait_all_terminal(self, job_ids, timeout, interval=0.2):
        """Block until every job is terminal; their statuses (AssertionError on timeout)."""
        def all_terminal():
            statuses = self.statuses(job_ids)
            return statuses if all(s["state"] in TERMINAL for s in statuses) else None
        statuses = wait_until(all_terminal, timeout=timeout, interval=interval)
        assert statuses, f"jobs not terminal after {timeout} s"
        return statuses


TERMINAL = ("done", "error", "cancelled")


def scrubbed_env(jobs_dir, **extra):
    """This process's environment without any astro-jobs setting, plus a
    JOBS_DIR and the stand-in extractor: what every test and bench starts from."""
    env = Env({name: value for name, value in os.environ.items()
               if not name.startswith("ASTRO_JOBS_")
               and name not in ("JOBS_DIR", "ASTRO_EXTRACT_BIN")})
    env.update(JOBS_DIR=str(jobs_dir), ASTRO_EXTRACT_BIN=str(STAND_IN), ASTRO_JOBS_BIN=str(BIN),
               PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", os.defpath)]), **extra)
    return env


# ld.so expands $LIB to this machine's library folder (lib/x86_64-linux-gnu, ...).
LIBFAKETIME = "/usr/$LIB/faketime/libfaketime.so.1"


def skewed_clock(env, seconds):
    """``env`` for processes whose wall clock is ``seconds`` off, by libfaketime
    (the Debian ``faketime`` package). The monotonic clock stays true, as on
    a node whose NTP failed. Preloaded directly: the ``faketime`` command
    forks, so its pid would not be the consumer's."""
    if not glob.glob(LIBFAKETIME.replace("$LIB", "lib*/*")) \
            and not glob.glob(LIBFAKETIME.replace("$LIB", "lib*")):
        raise RuntimeError("libfaketime not found: run scripts/install-deps.sh")
    fix = str(REPO / "tests" / "skewed_clock")
    path = os.pathsep.join(p for p in (fix, env.get("PYTHONPATH")) if p)
    return Env(env, LD_PRELOAD=LIBFAKETIME, FAKETIME=f"{seconds:+d}s",
               FAKETIME_DONT_FAKE_MONOTONIC="1", PYTHONPATH=path)


class Consumer:
    """A real ``huey_consumer`` started with the Procfile's command (or ``command``)."""

    def __init__(self, env, workers=2, log_path=None, command=None):
        self.env = Env(env, ASTRO_JOBS_WORKERS=str(workers))
        self.log_path = log_path or env.jobs_dir.parent / f"consumer-{time.monotonic_ns()}.log"
        env.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        # exec: the consumer itself is the child, so signals reach it directly.
        self.proc = subprocess.Popen(["bash", "-c", "exec " + (command or
                                                             procfile_worker_command())],
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
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
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


def pid_alive(pid):
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def wait_until(predicate, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def python_snippet(code, env, timeout=60):
    """Run Python code in a fresh interpreter with ``env``; return its stdout."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def cpu_seconds(pid):
    """CPU time (user + system, every thread) a live process has used."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    # After the command name: utime and stime are fields 12 and 13 (0-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def submit_many(env, image, count):
    """``count`` jobs of ``image`` submitted in one process (Python API); their ids.

    A CLI process per job would cost more CPU than short jobs themselves.
    """
    code = ("import sys, astro_jobs\n"
            "print(' '.join(astro_jobs.submit(sys.argv[1]) for _ in range(int(sys.argv[2]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(image), str(count)], env=env,
                          capture_output=True, text=True, cwd=REPO, check=True)
    return proc.stdout.split()


# -- job folders written directly (stats, list: what they read) ---------------

def stamp(epoch):
    """An ISO 8601 UTC timestamp as status.json writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + \
        f".{int(epoch * 1000) % 1000:03d}Z"


def job_status(job_id, state, created, started=None, finished=None, solved=True):
    """A status.json as the runner leaves it, times in epoch seconds (``solved``
    counts for a done job only)."""
    last = finished or started or created
    return {
        "job_id": job_id, "state": state, "created_at": stamp(created),
        "updated_at": stamp(last), "started_at": started and stamp(started),
        "finished_at": finished and stamp(finished),
        "params": {"scale_low": None, "scale_high": None, "scale_units": None,
                   "downsample": None, "timeout": 600.0, "priority": 0,
                   "image": "/uploads/sky.jpg"},
        "input": {"format": "jpeg", "width": 4000, "height": 3000, "file": "sky.jpg",
                  "bytes": 2400000},
        "attempts": 1, "max_attempts": 3,
        "worker": started and {"node": "node-a", "pid": 4242, "instance": "0123456789ab",
                               "thread": "Worker-1"},
        "stage": None, "heartbeat_at": started and stamp(last),
        "error": "the extractor exited with code 3." if state == "error" else None,
        "solved": solved if state == "done" else None,
        "finish_event": {"pending": False} if finished else None,
    }


def write_job(jobs_dir, status):
    """A job folder holding only status.json, its mtime set to the last update."""
    folder = Path(jobs_dir) / status["job_id"]
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps(status, indent=1) + "\n")
    last = status["finished_at"] or status["started_at"] or status["created_at"]
    epoch = calendar.timegm(time.strptime(last[:19], "%Y-%m-%dT%H:%M:%S"))
    os.utime(folder, (epoch, epoch))
    return folder


def make_synthetic_jobs(jobs_dir, count, now=None, seed=1):
    """``count`` job folders of the last week, mostly finished; the states' counts."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    counts = dict.fromkeys(("queued", "processing", "done", "error", "cancelled"), 0)
    for _ in range(count):
        state = rng.choices(list(counts), weights=(2, 1, 85, 10, 2))[0]
        created = now - rng.uniform(0, 7 * 86400) if state not in ("queued", "processing") \
            else now - rng.uniform(0, 600)
        started = created + rng.uniform(0, 30) if state != "queued" else None
        finished = started + rng.uniform(1, 120) if state in ("done", "error") else None
        if state == "cancelled":
            finished = created + rng.uniform(0, 60)
        if finished is not None and finished > now:
            finished = now
        write_job(jobs_dir, job_status(f"{rng.getrandbits(128):032x}", state, created,
                                       started, finished))
        counts[state] += 1
    return counts


def max_overlap(intervals):
    """The most (start, end) intervals open at one moment."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda ev: (ev[0], ev[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


# -- redis-server on 127.0.0.1 --------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_command(port, *args):
    """Send one command in RESP and return the raw reply (no client library)."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = str(arg).encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        if reply.startswith(b"$"):  # bulk string: read until the whole body is in
            size = int(reply[1:reply.index(b"\r\n")])
            while size >= 0 and len(reply) < reply.index(b"\r\n") + 2 + size + 2:
                reply += sock.recv(65536)
        return reply


REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A throwaway redis-server on 127.0.0.1, without persistence."""

    def __init__(self, folder):
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server not found: run scripts/install-deps.sh")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def pong():
            try:
                return redis_command(self.port, "PING").startswith(b"+PONG")
            except OSError:
                return self.proc.poll() is not None  # died: stop waiting
        if not wait_until(pong, timeout=15) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("redis-server did not start")

    url = property(lambda self: f"redis://127.0.0.1:{self.port}/0")

    def command(self, *args):
        return redis_command(self.port, *args)

    def blocked_pops(self):
        """How many clients sit in BZPOPMIN (idle workers) right now."""
        return self.command("CLIENT", "LIST").count(b"cmd=bzpopmin")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# -- astro-jobs serve ------------------------------------------------------------

class WebServer:
    """A real ``astro-jobs serve`` on 127.0.0.1 and a free port."""

    def __init__(self, env, *extra_args, log_path=None):
        self.log_path = log_path or env.jobs_dir.parent / f"serve-{time.monotonic_ns()}.log"
        env.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["astro-jobs", "serve", "--port", "0", *extra_args],
                                     env=env, stdout=subprocess.PIPE, stderr=self.log,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"astro-jobs serve did not start: {self.output()}")
        self.url = json.loads(line)["url"].rstrip("/")

    def output(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self.log.close()


def self_signed_certificate(folder):
    """(cert, key) paths of a throwaway certificate for 127.0.0.1, made with openssl."""
    cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key
