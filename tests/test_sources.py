"""`submit --sources`: a star list instead of an image, checked without numpy,
copied into input/, and handed to the extractor with the image's size."""
import json
import shutil

from support import REPO

STARS = REPO / "tests" / "data" / "sample"


def test_csv_and_xyls_star_lists_run_with_the_image_size(env, consumers, tmp_path):
    consumers(env)
    for name in ("apod4-stars.csv", "apod4-stars.xyls"):
        copy = shutil.copy(STARS / name, tmp_path / ("list-" + name))
        job_id = _submit_sources(env, copy)
        status = env.wait(job_id)
        assert status["state"] == "done", status
        assert status["input"]["sources"] == 300
        assert status["input"]["format"] == name.rsplit(".", 1)[1]
        assert status["params"]["image_width"] == 719
        folder = env.jobs_dir / job_id
        assert (folder / "input" / status["input"]["file"]).read_bytes() == (STARS / name) \
            .read_bytes()
        argv = json.loads((folder / "output" / "result.json").read_text())["argv"]
        assert argv[argv.index("--width") + 1] == "719"
        assert argv[argv.index("--height") + 1] == "507"


def _submit_sources(env, path):
    code, out, err = env.run("submit", "--sources", path, "--width", 719, "--height", 507)
    assert code == 0, (out, err)
    return out["job_id"]


def test_bad_star_lists_are_refused_and_leave_nothing(env, tmp_path, images):
    xyls = (STARS / "apod4-stars.xyls").read_bytes()
    cases = {
        "letters.csv": (b"x,y\n1,2\nthree,4\n", "invalid_sources"),
        "wide.csv": (b"1,2,3,4\n", "invalid_sources"),
        "header-only.csv": (b"x,y,flux\n", "empty_sources"),
        "binary.csv": (b"\xff\xfe\x00garbage", "invalid_sources"),
        "cut.xyls": (xyls[:len(xyls) - 2880], "truncated_sources"),
        "noxy.xyls": (xyls.replace(b"TTYPE1  = 'X", b"TTYPE1  = 'Q")
                      .replace(b"TTYPE2  = 'Y", b"TTYPE2  = 'R"), "invalid_sources"),
        "image.xyls": (images("ok").read_bytes(), "invalid_sources"),
    }
    for name, (data, code_expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, _ = env.run("submit", "--sources", path, "--width", 100, "--height", 100)
        assert (code, out["code"]) == (2, code_expected), (name, out)
    good = STARS / "apod4-stars.csv"
    for args, expected in ((["--sources", good], "invalid_parameter"),
                           (["--sources", good, "--width", 0, "--height", 5],
                            "invalid_parameter"),
                           (["--sources", good, "--image", good], "usage"),
                           (["--image", good, "--width", 5], "usage")):
        code, out, _ = env.run("submit", *args)
        assert code == 2 and out["code"] == expected, (args, out)
    assert not any(len(name) == 32 for name in env.job_folders())
