""""Not solved" is an outcome of its own: a real image that cannot solve, through a
real consumer with the bundled extractor (solve-field and the Tycho-2 indexes).

sdss.jpg is 13 arcminutes wide, far narrower than any Tycho-2 index; told
so, the extractor gives up in seconds and explains why.
"""
import json
import re

from prometheus_client.parser import text_string_to_metric_families
from test_follow import run_with_tty_stderr

from support import CORPUS, SAMPLE_IMAGE

UNSOLVABLE = CORPUS / "sdss.jpg"
NARROW = ("--scale-low", "11", "--scale-high", "14", "--scale-units", "arcminwidth")


def wait_on_a_terminal(env, job_id, timeout=300):
    """``astro-jobs wait`` with stderr on a pseudo-terminal: (exit code, stdout JSON,
    what the terminal showed)."""
    code, stdout, screen = run_with_tty_stderr(
        env, ["wait", "--job-id", job_id, "--timeout", str(timeout)], timeout=timeout + 30)
    return code, json.loads(stdout), screen


def final_line(shown):
    """The last state the progress line drew (each redraw starts with a carriage return;
    the terminal ends the line with CR LF)."""
    drawn = re.sub(r"\x1b\[K", "", shown).replace("\n", "").split("\r")
    return [text for text in drawn if text][-1]


def test_an_unsolvable_image_is_done_but_not_solved_everywhere(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]  # the bundled extractor, as in production
    consumers(env)
    unsolved = env.submit(UNSOLVABLE, *NARROW)
    solved = env.submit(SAMPLE_IMAGE, "--scale-low", "25", "--scale-high", "40")

    code, status, shown = wait_on_a_terminal(env, unsolved)
    assert code == 0 and status["state"] == "done" and status["solved"] is False, status
    result = json.loads(env.run("result", "--job-id", unsolved, check_json=False)[1])
    assert result["solved"] is False and result["reason"] == "no_match_in_scale_range"
    line = final_line(shown)
    assert line == f"{unsolved[:8]}  not solved: {result['explanation']}", shown
    assert "narrower than the" in line

    code, status, shown = wait_on_a_terminal(env, solved)
    assert code == 0 and status["solved"] is True, status
    assert final_line(shown).startswith(f"{solved[:8]}  done · solved · "), shown

    stats = env.run("stats")[1]
    assert stats["jobs"]["done"] == 2
    assert stats["done"] == {"solved": 1, "unsolved": 1}
    assert (stats["recent"]["5m"]["solved"], stats["recent"]["5m"]["unsolved"]) == (1, 1)
    text = env.run("stats", "--format", "prometheus", check_json=False)[1]
    done = {s.labels["outcome"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "astro_jobs_done_jobs"}
    assert done == {"solved": 1.0, "unsolved": 1.0}
