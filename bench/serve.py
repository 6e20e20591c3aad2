"""`astro-jobs serve` measured: polling throughput, and upload-to-done latency
over HTTP against the CLI's submit-to-done for the same image.

    python bench/serve.py [--image PATH] [--clients 32] [--seconds 10] [--rounds 3]

One real consumer (the bundled extractor) and one real server on a fresh
JOBS_DIR. First, ``--clients`` concurrent keep-alive clients poll
``GET /api/jobs/N`` of a done job for ``--seconds``: requests per second
and latency percentiles. Then, ``--rounds`` times in turn, the same image
goes through nova's protocol (login, upload, poll the submission and the job
every 0.1 s) and through the CLI (``submit`` then ``wait``): the median of
each, side by side, and their ratio.
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

POLL = 0.1


def environment(folder):
    env = Env(os.environ)
    for name in list(env):
        if name.startswith("ASTRO_JOBS_") or name in ("JOBS_DIR", "ASTRO_EXTRACT_BIN"):
            del env[name]
    env.update(JOBS_DIR=os.path.join(folder, "jobs"))
    return env


def nova_solve(url, image):
    """Seconds from the upload's first byte to the job's ``success``, as a client sees it."""
    with httpx.Client(base_url=url, timeout=60) as client:
        session = client.post("/api/login", data={"request-json": json.dumps(
            {"apikey": "bench"})}).json()["session"]
        started = time.monotonic()
        with open(image, "rb") as handle:
            subid = client.post("/api/upload", data={"request-json": json.dumps(
                {"session": session})}, files={"file": handle}).json()["subid"]
        while True:
            jobs = client.get(f"/api/submissions/{subid}").json()["jobs"]
            if jobs and client.get(f"/api/jobs/{jobs[0]}").json()["status"] != "solving":
                return time.monotonic() - started, jobs[0]
            time.sleep(POLL)


def cli_solve(env, image):
    started = time.monotonic()
    job_id = json.loads(subprocess.run(["astro-jobs", "submit", "--image", image], env=env,
                                       capture_output=True, check=True).stdout)["job_id"]
    subprocess.run(["astro-jobs", "wait", "--job-id", job_id, "--timeout", "600"], env=env,
                   capture_output=True, check=True)
    return time.monotonic() - started


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
            run(args, env, server)
        finally:
            server.stop()
            consumer.stop()


def run(args, env, server):
    url = server.url
    warm, job = nova_solve(url, args.image)  # also warms the page cache and solve-field
    print(f"warm-up solve over HTTP: {warm:.2f} s (job {job})")
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
    web, cli = [], []
    for _ in range(args.rounds):
        web.append(nova_solve(url, args.image)[0])
        cli.append(cli_solve(env, args.image))
    name = os.path.basename(args.image)
    print(f"\n{name}, upload-to-done, median of {args.rounds} rounds taken in turn:")
    print(f"  {'nova API over HTTP':<24} {statistics.median(web):7.2f} s   "
          f"({' '.join(f'{s:.2f}' for s in web)})")
    print(f"  {'CLI submit + wait':<24} {statistics.median(cli):7.2f} s   "
          f"({' '.join(f'{s:.2f}' for s in cli)})")
    print(f"  HTTP / CLI: {statistics.median(web) / statistics.median(cli):.2f}")


if __name__ == "__main__":
    main()
