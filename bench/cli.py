#!/usr/bin/env python3
"""CLI latency: `status` and `result` against `python -c "import click"`,
`submit` of a real sky image against a bare client's `import click, huey`,
side by side.

    python bench/cli.py [--rounds 40]

The bare client's huey imports no redis client: huey.storage imports redis
whenever it is installed, which astro-jobs avoids on SQLite and a client
without the redis package never pays, so the baseline runs with `redis`
made unimportable. `submit` sends the corpus' largest image (a 1.2 MB
JPEG), as a user would, not a tiny one. Medians of interleaved rounds in
random order (the machine is shared and noisy), each command a fresh
process as a backend runs it. Targets: `status` and `result` <= 1.3,
`submit` <= 1.2 (it loads the queue, never the runner: tests/test_imports.py).
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
from harness.support import CORPUS, make_png, python_snippet, scrubbed_env  # noqa: E402

from targets import Verdicts  # noqa: E402

TARGETS = {"status": 1.3, "result": 1.3, "submit": 1.2}
SKY_IMAGE = CORPUS / "m44-1910-04-01.jpg"
# A bare client: huey as it imports where the redis package is not installed.
BARE_CLIENT = "import sys; sys.modules['redis'] = None; import click, huey"


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
    job_id, cli, py = done_job(env, make_png(work / "ok.png")), cli_command(), sys.executable
    commands = {
        "import click": [py, "-c", "import click"],
        "import click, huey": [py, "-c", BARE_CLIENT],
        "status": cli + ["status", "--job-id", job_id],
        "result": cli + ["result", "--job-id", job_id],
        "submit": cli + ["submit", "--image", str(SKY_IMAGE)],
    }
    med = medians(commands, env, args.rounds)
    print(f"CLI latency, medians of {args.rounds} interleaved rounds; command: "
          f"{Path(cli[0]).name} {' '.join(cli[1:])}")
    for name in commands:
        print(f"  {name:20s} {med[name] * 1000:8.1f} ms")
    verdicts = Verdicts("bench/cli.py")
    for name, base in (("status", "import click"), ("result", "import click"),
                       ("submit", "import click, huey")):
        verdicts.at_most(f"{name} / {base}", med[name] / med[base], TARGETS[name], digits=2)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
