"""A small chaos run in the suite: bench/chaos.py with 20 jobs and 10 kills
of every kind (consumer, extractor, at claim, while writing the result,
during recovery) must lose nothing. The full run (300 jobs, 100 kills, on
SQLite and Redis) is a benchmark: make chaos."""
import subprocess
import sys

from support import REPO


def test_a_small_chaos_run_loses_nothing(env):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "chaos.py"), "--jobs", "20", "--kills", "10",
         "--seed", "7", "--deadline", "60"],
        env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "jobs: 20, kills: 10 " in proc.stdout, proc.stdout
    assert "lost: 0, foreign outcomes: 0, over-run jobs: 0" in proc.stdout, proc.stdout
