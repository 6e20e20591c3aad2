#!/usr/bin/env python3
"""CLI latency: `status` and `result` against `python -c "import click"`,
`submit` against `python -c "import click, huey"`, side by side.

    python bench/cli.py [--rounds 40]

Medians of interleaved rounds in random order (the machine is shared and
noisy), each command a fresh process as a backend runs it. Target: each
ratio <= 1.3.
"""
import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/NAME.py`: harness/ sits at the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.support import make_png, python_snippet, scrubbed_env  # noqa: E402

TARGET = 1.3


def cli_command():
    """The console script next to this interpreter (what a backend runs).

    Not a version manager's shim (pyenv's is a bash script that costs more
    than the whole command); else ``python -m astro_jobs``.
    """
    script = Path(sys.executable).with_name("astro-jobs")
    if script.is_file() and script.read_bytes()[:2] == b"#!":
        return [str(script)]
    return [sys.executable, "-m", "astro_jobs"]


def done_job(env, image):
    """A job run to ``done`` in one process, for `status` and `result` to read."""
    return python_snippet(f"""
import astro_jobs
from astro_jobs.runner.worker import Run
job_id = astro_jobs.submit({str(image)!r})
Run(job_id).execute()
assert astro_jobs.status(job_id)["state"] == "done"
print(job_id)
""", env).split()[-1]


def medians(commands, env, rounds):
    times = {name: [] for name in commands}
    for round_ in range(rounds + 1):  # round 0 warms caches and is dropped
        order = list(commands)
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            proc = subprocess.run(commands[name], env=env, capture_output=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed: {proc.stdout!r} {proc.stderr!r}")
            if round_:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astro-jobs-bench-cli-"))
    # Bytecode cached in scratch, as on an installed system (an editable
    # install under PYTHONDONTWRITEBYTECODE would recompile on every run).
    env = scrubbed_env(work / "jobs", PYTHONPYCACHEPREFIX=str(work / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    image = make_png(work / "ok.png")
    job_id, cli, py = done_job(env, image), cli_command(), sys.executable
    commands = {
        "import click": [py, "-c", "import click"],
        "import click, huey": [py, "-c", "import click, huey"],
        "status": cli + ["status", "--job-id", job_id],
        "result": cli + ["result", "--job-id", job_id],
        "submit": cli + ["submit", "--image", str(image)],
    }
    med = medians(commands, env, args.rounds)
    print(f"CLI latency, medians of {args.rounds} interleaved rounds; command: "
          f"{Path(cli[0]).name} {' '.join(cli[1:])}")
    for name in commands:
        print(f"  {name:20s} {med[name] * 1000:8.1f} ms")
    ok = True
    for name, base in (("status", "import click"), ("result", "import click"),
                       ("submit", "import click, huey")):
        ratio = med[name] / med[base]
        ok &= ratio <= TARGET
        print(f"  {name:8s} / {base:20s} = {ratio:5.2f}  (target <= {TARGET})  "
              f"{'PASS' if ratio <= TARGET else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
