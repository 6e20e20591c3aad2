"""A small chaos run in the suite: bench/chaos.py with 40 jobs and 10 SIGKILLs
in all, each of a kind drawn at random (a consumer, an extractor, a consumer
at claim, while writing the result, during recovery), must lose no job,
record no outcome from a run that lost its job, and over-run none. Forty
jobs keep a slow machine busy until all ten kills are sent. The full
run (300 jobs, 100 kills, on SQLite and Redis) is a benchmark: make chaos."""
import ast
import re
import subprocess
import sys

from support import REPO


def test_ten_kills_of_mixed_kinds_lose_nothing(env):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "chaos.py"), "--jobs", "40", "--kills", "10",
         "--seed", "7", "--deadline", "60"],
        env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kills = re.search(r"jobs: 40, kills: 10 (\{.*\})", proc.stdout)
    assert kills, proc.stdout
    kinds = ast.literal_eval(kills.group(1))
    assert sum(kinds.values()) == 10, kinds
    assert sum(1 for sent in kinds.values() if sent) >= 2, kinds  # mixed, not one kind
    for figure in ("lost jobs: 0", "foreign jobs: 0", "over-run jobs: 0"):
        assert re.search(rf"^PASS +{figure} ", proc.stdout, re.M), proc.stdout
