"""A sequence of frames (submit --sequence NAME) through a real consumer and
the bundled extractor: after the first frame, each starts from where the
last solved frame pointed."""
import json

from harness.frames import make_sequence

from support import CORPUS, separation_deg

APOD2 = json.loads((CORPUS / "expected.json").read_text())["apod2.jpg"]


def _done(env, job_id):
    status = env.wait(job_id, timeout=120)
    assert status["state"] == "done", (status, (env.jobs_dir / job_id / "task.log").read_text())
    return json.loads((env.jobs_dir / job_id / "output" / "result.json").read_text())


def test_a_sequence_starts_each_frame_from_the_last_solved_one(env, consumers, tmp_path):
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env)
    frames = make_sequence(CORPUS / "apod2.jpg", tmp_path / "frames", 4)
    solved_with, centres = [], []
    for frame in frames:  # one after another, as a camera delivers them
        doc = _done(env, env.submit(frame, "--sequence", "orion-1"))
        assert doc["solved"] is True, doc
        solved_with.append(doc["hints"]["solved_with"])
        centres.append((doc["calibration"]["ra"], doc["calibration"]["dec"]))
        record = json.loads((env.jobs_dir / "sequences" / "orion-1.json").read_text())
        assert (record["ra"], record["dec"]) == centres[-1]
    assert solved_with[0] == "blind" and solved_with[1:] == ["sequence"] * 3, solved_with
    for ra, dec in centres:  # the frames are windows onto apod2's field
        assert separation_deg(ra, dec, APOD2["ra"], APOD2["dec"]) < 0.5
    # Another sequence does not see this one's pointing.
    other = _done(env, env.submit(frames[0], "--sequence", "elsewhere"))
    assert "sequence" not in other["hints"] and other["hints"]["solved_with"] == "blind"


def test_an_unsolved_frame_leaves_the_sequence_where_it_was(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]
    consumers(env)
    first = _done(env, env.submit(CORPUS / "apod2.jpg", "--sequence", "s"))
    assert first["solved"] is True
    cloud = _done(env, env.submit(CORPUS / "apod5.jpg", "--sequence", "s"))
    assert cloud["solved"] is False and cloud["hints"]["sequence"]["ra"] == first[
        "calibration"]["ra"]
    record = json.loads((env.jobs_dir / "sequences" / "s.json").read_text())
    assert record["ra"] == first["calibration"]["ra"]
