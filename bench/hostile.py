"""Hostile uploads against a real `astro-jobs serve`: how fast each is refused,
and whether the server's memory and CPU come back to rest afterwards.

    python bench/hostile.py [--rounds 20] [--clients 4] [--rest 3]

One server on 127.0.0.1 (no consumer: a refused upload makes no job), a
fresh JOBS_DIR and temporary folder. First every hostile file of
harness/hostile_files.py goes once through `astro-jobs submit` (the CLI's
refusal time, process start included, and the header check's alone). Then
the server gets one of each (what a first upload imports is paid once), its
RSS and CPU are read at rest, and a burst sends every file ``--rounds``
times from ``--clients`` concurrent clients (each answer must be nova's
error with the file's code); RSS is read right after and again after
``--rest`` seconds of rest, with the CPU used during that rest.

Targets: refusals within 1 s (the CLI's median: its slowest is mostly the
start of a Python process on a loaded machine), the RSS back within 10 MB
of where it started (a 26-byte TIFF used to keep 280 MB per upload), under
2 % of a core at rest, nothing left in JOBS_DIR or the temporary folder.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, REPO)
from harness.hostile_files import CASES  # noqa: E402
from harness.support import Env, WebServer, cpu_seconds  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "bench"))
from targets import Verdicts  # noqa: E402

REFUSAL_SECONDS = 1.0
RSS_GROWTH_MB = 10.0
REST_CPU_PERCENT = 2.0


def environment(folder):
    env = Env({k: v for k, v in os.environ.items()
               if not k.startswith("ASTRO_JOBS_") and k not in ("JOBS_DIR", "ASTRO_EXTRACT_BIN")})
    spool = os.path.join(folder, "tmp")
    os.makedirs(spool)
    bindir = os.path.dirname(sys.executable)
    env.update(JOBS_DIR=os.path.join(folder, "jobs"), TMPDIR=spool,
               PATH=os.pathsep.join([bindir, env.get("PATH", os.defpath)]))
    return env


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def check_seconds(path, case):
    """How long submit's own header check takes to refuse ``path``, in-process."""
    from astro_jobs.errors import BadInput
    from astro_jobs.intake import images, starlists

    started = time.perf_counter()
    try:
        if case.kind == "sources":
            starlists.inspect(path)
        else:
            images.inspect(path, 250e6)
    except BadInput:
        return time.perf_counter() - started
    return float("nan")  # accepted: not a refusal


def cli_refusals(env, folder):
    """(CLI refusal times in seconds, slowest in-process check, the cases answered
    otherwise than expected)."""
    times, checks, wrong = [], [], []
    for case in CASES:
        path = os.path.join(folder, case.name)
        with open(path, "wb") as handle:
            handle.write(case.data)
        args = ["--sources", path, "--width", "100", "--height", "100"] \
            if case.kind == "sources" else ["--image", path]
        checks.append(check_seconds(path, case))
        started = time.monotonic()
        proc = subprocess.run(["astro-jobs", "submit", *args], env=env, capture_output=True,
                              text=True, timeout=60)
        times.append(time.monotonic() - started)
        out = json.loads(proc.stdout or "{}")
        if proc.returncode != 2 or out.get("code") != case.code:
            wrong.append(case.name)
    return times, max(checks), wrong


def upload(client, session, case):
    """(seconds, whether the answer was nova's error with the file's code) of one upload."""
    started = time.monotonic()
    reply = client.post("/api/upload", data={"request-json": json.dumps({"session": session})},
                        files={"file": (case.name, case.data)})
    seconds = time.monotonic() - started
    doc = reply.json()
    return seconds, reply.status_code == 200 and doc.get("status") == "error" and doc.get(
        "code") in case.upload_codes()


def burst(url, rounds, clients):
    """(slowest answer in seconds, uploads not refused cleanly, uploads sent)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        session = client.post("/api/login", data={"request-json": json.dumps(
            {"apikey": "bench"})}).json()["session"]
    work = [case for _ in range(rounds) for case in CASES]

    def send(cases):
        with httpx.Client(base_url=url, timeout=60) as client:
            return [upload(client, session, case) for case in cases]
    with ThreadPoolExecutor(clients) as pool:
        answers = [a for part in pool.map(send, [work[i::clients] for i in range(clients)])
                   for a in part]
    return max(s for s, _ in answers), sum(not ok for _, ok in answers), len(answers)


def at_rest(pid, seconds):
    """(RSS in MB, percent of one core used) over ``seconds`` of quiet."""
    cpu = cpu_seconds(pid)
    time.sleep(seconds)
    return rss_mb(pid), 100.0 * (cpu_seconds(pid) - cpu) / seconds


def leftovers(env):
    """Job and .incoming-* folders in JOBS_DIR (its databases aside), and the
    temporary folder's contents."""
    jobs = [n for n in os.listdir(env["JOBS_DIR"]) if ".sqlite3" not in n] \
        if os.path.isdir(env["JOBS_DIR"]) else []
    return jobs + os.listdir(env["TMPDIR"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="each file sent this many times")
    parser.add_argument("--clients", type=int, default=4, help="concurrent uploaders")
    parser.add_argument("--rest", type=float, default=3.0, help="seconds of rest measured")
    args = parser.parse_args(argv)
    verdicts = Verdicts("bench/hostile.py")
    with tempfile.TemporaryDirectory(prefix="astro-jobs-hostile-") as folder:
        env = environment(folder)
        cases = os.path.join(folder, "cases")
        os.makedirs(cases)
        times, slowest_check, wrong = cli_refusals(env, cases)
        verdicts.at_most("slowest header check's refusal (in-process)", slowest_check,
                         REFUSAL_SECONDS, "s", 4)
        verdicts.at_most("median CLI refusal (submit, process start included)",
                         statistics.median(times), REFUSAL_SECONDS, "s",
                         note=f"slowest {max(times):.3f} s on this machine's load")
        verdicts.equal("CLI answers other than exit 2 and the file's code", len(wrong), 0,
                       note=", ".join(wrong))
        web = WebServer(env, log_path=os.path.join(folder, "serve.log"))
        try:
            measure_server(web, args, verdicts, env)
        finally:
            web.stop()
    return verdicts.finish()


def measure_server(web, args, verdicts, env):
    pid = web.proc.pid
    # One of each first: the imports a first upload of each kind brings (numpy
    # for a FITS star list) are paid once, not kept per upload.
    burst(web.url, 1, 1)
    rss_before, cpu_before = at_rest(pid, args.rest)
    print(f"server at rest before: RSS {rss_before:.1f} MB, CPU {cpu_before:.2f} %")
    slowest, unclean, sent = burst(web.url, args.rounds, args.clients)
    rss_after = rss_mb(pid)
    rss_rest, cpu_rest = at_rest(pid, args.rest)
    print(f"burst: {sent} hostile uploads ({len(CASES)} kinds x {args.rounds}) from "
          f"{args.clients} clients; RSS right after {rss_after:.1f} MB")
    verdicts.at_most("slowest server refusal", slowest, REFUSAL_SECONDS, "s")
    verdicts.equal("uploads not answered by nova's error with the file's code", unclean, 0)
    verdicts.at_most("server RSS growth at rest after the burst", rss_rest - rss_before,
                     RSS_GROWTH_MB, "MB", 1, note=f"{rss_before:.1f} -> {rss_rest:.1f} MB")
    verdicts.at_most("server CPU at rest after the burst", cpu_rest, REST_CPU_PERCENT,
                     "% of a core", 2)
    left = leftovers(env)
    verdicts.equal("files left in JOBS_DIR and the temporary folder", len(left), 0,
                   note=", ".join(left))


if __name__ == "__main__":
    sys.exit(main())
