"""Which program a job runs and with which arguments (the extractor contract)."""
import os
import shutil
import sys

from .. import config
from ..errors import BadInput
from ..store import sequences

BUNDLED = ("-m", "astro_jobs.extract")


def bundled_args(argv):
    """The arguments of the bundled extractor in ``argv``, or None for another program."""
    if argv[:3] == [sys.executable, *BUNDLED]:
        return argv[3:]
    return None


def command():
    """argv prefix of the extractor: ASTRO_EXTRACT_BIN, or the bundled one."""
    binary = config.extract_bin()
    if binary is None:
        return [sys.executable, *BUNDLED]
    path = binary if os.sep in binary else shutil.which(binary)
    if not path or not os.path.isfile(path):
        raise BadInput(f"extractor not found: ASTRO_EXTRACT_BIN={binary}",
                       code="extractor_not_found")
    path = os.path.abspath(path)  # the extractor runs inside output/
    if path.endswith(".py") and not os.access(path, os.X_OK):
        return [sys.executable, path]
    if not os.access(path, os.X_OK):
        raise BadInput(f"extractor is not executable: {path}", code="extractor_not_found")
    return [path]


def argv(job, status):
    """The full command line of one run of ``job``."""
    params = status["params"]
    args = command() + ["--image", str(job.input_file(status)),
                        "--output", str(job.result_path)]
    if config.extract_bin() is None:  # a custom extractor keeps the contract it had
        args += pointing_args(params)
    if params.get("scale_low") is not None:
        args += ["--scale-low", repr(params["scale_low"]),
                 "--scale-high", repr(params["scale_high"]),
                 "--scale-units", params["scale_units"]]
    if params.get("downsample") is not None:
        args += ["--downsample", str(params["downsample"])]
    if params.get("image_width") is not None:  # a star list: the image it was measured on
        args += ["--width", str(params["image_width"]), "--height", str(params["image_height"])]
    args += ["--timeout", f"{params['timeout']:g}"]
    return args


def pointing_args(params):
    """The bundled extractor's flags for the caller's pointing and the job's sequence."""
    args = []
    if params.get("ra") is not None:
        args += ["--ra", repr(params["ra"]), "--dec", repr(params["dec"]),
                 "--radius", repr(params["radius"])]
    last = sequences.latest(params["sequence"]) if params.get("sequence") else None
    if last is not None:
        args += ["--sequence-ra", repr(last["ra"]), "--sequence-dec", repr(last["dec"]),
                 "--sequence-pixscale", repr(last["pixscale_arcsec"])]
    return args
