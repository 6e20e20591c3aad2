"""The Python API returns plain data and raises errors with codes."""
import json

from support import SAMPLE_IMAGE, python_snippet


def run_api(env, body):
    """Run ``body`` (which prints one JSON line) with astro_jobs imported."""
    out = python_snippet("import json, sys, astro_jobs\n" + body, env)
    return json.loads(out.strip().splitlines()[-1])


def test_status_wait_list_cancel_prune_return_plain_data(env):
    got = run_api(env, f"""
job = astro_jobs.submit({str(SAMPLE_IMAGE)!r})
status = astro_jobs.status(job)
listed = astro_jobs.list_jobs()
cancelled = astro_jobs.cancel(job)
again = astro_jobs.cancel(job)
waited = astro_jobs.wait(job, timeout=5)
print(json.dumps({{"status": status, "listed": listed, "cancelled": cancelled,
                  "again": again, "waited": waited, "pruned": astro_jobs.prune("1w")}}))
""")
    assert "ok" not in got["status"] and got["status"]["state"] == "queued"
    assert [s["job_id"] for s in got["listed"]] == [got["status"]["job_id"]]
    assert "ok" not in got["listed"][0]
    assert got["cancelled"]["state"] == "cancelled" and "ok" not in got["cancelled"]
    assert got["cancelled"]["finished_at"] is not None
    assert got["again"] == got["cancelled"]
    assert got["waited"] == got["cancelled"]
    assert got["pruned"] == 0


def test_errors_name_python_parameters_and_carry_codes(env):
    got = run_api(env, f"""
out = []
for kwargs in ({{"scale_low": "abc", "scale_high": 2}}, {{"scale_low": 1}},
               {{"timeout": -1}}, {{"scale_units": "parsecs", "scale_low": 1, "scale_high": 2}}):
    try:
        astro_jobs.submit({str(SAMPLE_IMAGE)!r}, **kwargs)
    except astro_jobs.InvalidParameter as exc:
        out.append([exc.code, exc.message, hasattr(exc, "exit_code")])
print(json.dumps(out))
""")
    assert [code for code, _, _ in got] == ["invalid_parameter"] * 4
    messages = [message for _, message, _ in got]
    assert messages[0] == "scale_low must be a number, got 'abc'"
    assert messages[1] == "scale_low and scale_high go together: give both or neither"
    assert messages[2] == "timeout must be greater than 0, got -1"
    assert messages[3].startswith("scale_units must be one of degwidth")
    assert not any("--" in m for m in messages)
    assert not any(has_exit for _, _, has_exit in got)


def test_cli_spells_the_same_errors_as_flags(env):
    code, out, _ = env.run("submit", "--image", SAMPLE_IMAGE, "--scale-low", "abc",
                           "--scale-high", "2")
    assert (code, out) == (2, {"ok": False, "error": "--scale-low must be a number, got 'abc'",
                               "code": "invalid_parameter"})


def test_prune_and_list_load_no_huey_or_redis(env):
    env.submit(SAMPLE_IMAGE)
    got = run_api(env, """
astro_jobs.prune("1d")
astro_jobs.list_jobs()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("huey", "redis"))))
""")
    assert got == []
