"""`astro-jobs serve` measured: polling throughput, and upload-to-done latency
over HTTP against the CLI's submit-to-done for the same image.

    python bench/serve.py [--image PATH] [--clients 32] [--seconds 10] [--rounds 3]

One real consumer (the bundled extractor) and one real server on a fresh
JOBS_DIR. First, ``--clients`` concurrent keep-alive clients poll
``GET /api/jobs/N`` of a done job for ``--seconds``: requests per second
and latency percentiles. Then, ``--rounds`` times in turn, the same image
goes through nova's protocol (login, upload, poll the submission and the job
every 0.1 s) and through the CLI (``submit`` then ``wait``): the median of
each, side by side, and their ratio. A solve counts only when it solved
(nova's ``success``; the CLI's job ``done`` with ``solved: true``): a failed
or unsolved one is counted as failed, never as done. Targets: no polling
error, no failed solve, HTTP / CLI upload-to-done <= 1.2 (the HTTP face
adds no measurable latency to a job).
"""
import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, REPO)
from harness.support import CORPUS, Consumer, Env, WebServer  # noqa: E402

from targets import Verdicts  # noqa: E402

POLL = 0.1
TARGET_HTTP_OVER_CLI = 1.2


def environment(folder):
    env = Env(os.environ)
    for name in list(env):
        if name.startswith("ASTRO_JOBS_") or name in ("JOBS_DIR", "ASTRO_EXTRACT_BIN"):
            del env[name]
    env.update(JOBS_DIR=os.path.join(folder, "jobs"))
    return env


def nova_solve(url, image):
    """(seconds from the upload's first byte to the job's end, job id, solved), as a
    client sees it: nova's job status ends ``success`` or ``failure``."""
    with httpx.Client(base_url=url, timeout=60) as client:
        session = client.post("/api/login", data={"request-json": json.dumps(
            {"apikey": "bench"})}).json()["session"]
        started = time.monotonic()
        with open(image, "rb") as handle:
            subid = client.post("/api/upload", data={"request-json": json.dumps(
                {"session": session})}, files={"file": handle}).json()["subid"]
        while True:
            jobs = client.get(f"/api/submissions/{subid}").json()["jobs"]
            status = jobs and client.get(f"/api/jobs/{jobs[0]}").json()["status"]
            if status and status not in ("processing", "solving"):
                return time.monotonic() - started, jobs[0], status == "success"
            time.sleep(POLL)


def cli_solve(env, image):
    """(seconds from submit to `wait` returning, solved: done with a solution)."""
    started = time.monotonic()
    job_id = json.loads(subprocess.run(["astro-jobs", "submit", "--image", image], env=env,
                                       capture_output=True, check=True).stdout)["job_id"]
    status = json.loads(subprocess.run(
        ["astro-jobs", "wait", "--job-id", job_id, "--timeout", "600"], env=env,
        capture_output=True).stdout)
    seconds = time.monotonic() - started
    if status.get("state") != "done":
        return seconds, False
    result = subprocess.run(["astro-jobs", "result", "--job-id", job_id], env=env,
                            capture_output=True)
    return seconds, result.returncode == 0 and json.loads(result.stdout).get("solved") is True


async def poll_load(url, path, clients, seconds):
    """(requests, errors, latencies) of ``clients`` concurrent pollers for ``seconds``.

    Each poller is one keep-alive connection speaking plain HTTP/1.1 through
    asyncio streams: a client library costs several times the server's CPU
    per request here, and would measure itself.
    """
    host, port = urlsplit(url).hostname, urlsplit(url).port
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds

    async def poller():
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        while time.monotonic() < deadline:
            started = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = await reader.readexactly(length)
            latencies.append(time.monotonic() - started)
            errors += not head.startswith(b"HTTP/1.1 200") or b'"success"' not in body
        writer.close()
    await asyncio.gather(*(poller() for _ in range(clients)))
    return len(latencies), errors, latencies


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default=str(CORPUS / "apod4.jpg"))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        env = environment(folder)
        consumer = Consumer(env, workers=2)
        server = WebServer(env)
        try:
            return run(args, env, server)
        finally:
            server.stop()
            consumer.stop()


def run(args, env, server):
    url, verdicts = server.url, Verdicts("bench/serve.py")
    # Also warms the page cache and solve-field.
    warm, job, solved = nova_solve(url, args.image)
    print(f"warm-up solve over HTTP: {warm:.2f} s (job {job}, "
          f"{'solved' if solved else 'FAILED'})")
    cpu_before, client_before = cpu_seconds(server.proc.pid), time.process_time()
    count, errors, latencies = asyncio.run(
        poll_load(url, f"/api/jobs/{job}", args.clients, args.seconds))
    server_cpu = cpu_seconds(server.proc.pid) - cpu_before
    client_cpu = time.process_time() - client_before
    latencies.sort()
    print(f"\nGET /api/jobs/{job} with {args.clients} concurrent clients for "
          f"{args.seconds:g} s: {count / args.seconds:.0f} requests/s, {errors} errors, "
          f"latency p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
    print(f"  CPU per request: server {server_cpu / count * 1000:.2f} ms, "
          f"this client {client_cpu / count * 1000:.2f} ms "
          f"(both on {os.cpu_count()} cores shared with everything else)")
    verdicts.equal("polling errors", errors, 0)
    web, cli = [], []
    for _ in range(args.rounds):
        web.append(nova_solve(url, args.image)[::2])
        cli.append(cli_solve(env, args.image))
    return judge_solves(verdicts, os.path.basename(args.image), web, cli, solved)


def judge_solves(verdicts, name, web, cli, warm_solved):
    """The upload-to-done figures of the solved runs; failed ones counted apart."""
    print(f"\n{name}, upload-to-done of the solved runs, {len(web)} rounds taken in turn:")
    medians = []
    for label, runs in (("nova API over HTTP", web), ("CLI submit + wait", cli)):
        times = [seconds for seconds, solved in runs if solved]
        medians.append(statistics.median(times) if times else None)
        print(f"  {label:<24} " + " ".join(f"{s:.2f}{'' if ok else ' (FAILED)'}"
                                          for s, ok in runs))
    verdicts.equal("failed solves over HTTP", sum(not ok for _, ok in web) + (not warm_solved),
                   0)
    verdicts.equal("failed solves through the CLI", sum(not ok for _, ok in cli), 0)
    ratio = medians[0] / medians[1] if None not in medians else None
    verdicts.at_most("HTTP / CLI, median upload-to-done", ratio, TARGET_HTTP_OVER_CLI,
                     digits=2, note=None if ratio is None else
                     f"{medians[0]:.2f} s / {medians[1]:.2f} s")
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
