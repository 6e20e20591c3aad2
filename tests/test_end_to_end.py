"""The whole path with the bundled extractor: CLI -> queue -> consumer ->
astrometry-engine -> result, on the sample image of tests/data (no corpus needed)."""
import json

from astro_jobs.extract.progress import STAGES

from support import SAMPLE_IMAGE, separation_deg

# apod4.jpg as measured with solve-field 0.93 and the Tycho-2 indexes
# (shared corpus, expected.json); the sample is a verbatim copy.
EXPECTED = {"ra": 187.1850, "dec": 56.7134, "width": 33.15}


def test_the_bundled_extractor_solves_the_sample_through_a_consumer(env, consumers):
    del env["ASTRO_EXTRACT_BIN"]  # the default: the bundled extractor
    consumers(env)
    job_id = env.submit(SAMPLE_IMAGE)
    status, stages = env.watch_stages(job_id, timeout=180)
    log = (env.jobs_dir / job_id / "task.log").read_text()
    assert status["state"] == "done", (status, log)
    # The extractor went through every stage, in order (its task.log says so);
    # a job this short may finish between two polls of its status, so the
    # stages seen there are only some of them (test_consumer shows each one
    # published, with a stand-in slow enough to be watched).
    walked = [line.split("stage: ")[1] for line in log.splitlines() if "] stage: " in line]
    assert walked == list(STAGES), log
    assert set(stages) <= set(STAGES), stages

    code, text, _ = env.run("result", "--job-id", job_id, check_json=False)
    assert code == 0
    result = json.loads(text)
    assert result["solved"] is True
    calibration = result["calibration"]
    error = separation_deg(calibration["ra"], calibration["dec"],
                             EXPECTED["ra"], EXPECTED["dec"])
    assert error < 0.02 * EXPECTED["width"], (calibration, error)
    assert abs(calibration["field_width_deg"] - EXPECTED["width"]) < 0.05 * EXPECTED["width"]
    assert "Ursa Major" in result["objects_in_field"]
    output = env.jobs_dir / job_id / "output"
    for name in result["files"].values():
        assert (output / name).is_file(), name
    assert (output / result["files"]["wcs"]).read_bytes()[:6] == b"SIMPLE"
    assert (output / result["files"]["annotated"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
