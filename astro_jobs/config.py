"""Every environment variable astro-jobs reads, in one place.

Read on each call, not at import, so one process (a test, a backend) can
change the environment between calls and be obeyed. ASTRO_JOBS_WORKERS is
the one exception: it sizes the consumer, so the Procfile and the systemd
unit pass it to huey_consumer's --workers.
"""
import math
import os

from .errors import BadInput
from .timefmt import parse_duration

DEFAULT_JOBS_DIR = "/srv/astro_jobs"


class ConfigError(BadInput):
    code = "bad_config"


def _env(name, default=None):
    value = os.environ.get(name, "").strip()
    return value or default


def _number(name, default, kind=float, minimum=0.0):
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def jobs_dir():
    return _env("JOBS_DIR", DEFAULT_JOBS_DIR)


def extract_bin():
    """The extractor program, or None for the bundled one."""
    return _env("ASTRO_EXTRACT_BIN")


def warm_solver():
    """Whether the bundled extractor runs warm (a fork server per worker thread)."""
    value = _env("ASTRO_JOBS_WARM_SOLVER", "1").lower()
    if value not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ConfigError(f"ASTRO_JOBS_WARM_SOLVER must be 1 or 0, got {value!r}")
    return value in ("1", "true", "yes", "on")


def queue_url():
    return _env("ASTRO_JOBS_QUEUE_URL")


def node():
    import socket  # 2 ms at import; `status` and `result` never need it
    return _env("ASTRO_JOBS_NODE") or socket.gethostname()


def heartbeat_seconds():
    return _number("ASTRO_JOBS_HEARTBEAT", 10.0, float, 0.1)


def stale_after_seconds():
    """A processing job whose heartbeat is older than this has lost its worker.

    Three missed beats: one late write on a busy shared filesystem must not
    get a healthy job re-run.
    """
    return 3 * heartbeat_seconds() + 1


def retention_seconds():
    raw = _env("ASTRO_JOBS_RETENTION", "7d")
    try:
        return parse_duration(raw)
    except BadInput:
        raise ConfigError(f"ASTRO_JOBS_RETENTION is not a duration: {raw!r}") from None


def max_attempts():
    return _number("ASTRO_JOBS_MAX_ATTEMPTS", 3, int, 1)


def max_image_bytes():
    return int(_number("ASTRO_JOBS_MAX_IMAGE_MB", 200.0) * 1024 * 1024)


def max_image_pixels():
    """Refuse decompression bombs: 250 Mpx is beyond any camera or plate scan."""
    return _number("ASTRO_JOBS_MAX_PIXELS", 250e6)


# The extractor's own needs (Python, numpy, astropy, solve-field mapping its
# index files), and what it holds per pixel of the largest image it accepts
# (the file, the decoded picture, grey and colour copies, binned lists:
# about 33 bytes a pixel measured on an RGB PNG, with a margin).
MEMORY_BASE_MB = 2048
MEMORY_BYTES_PER_PIXEL = 40


def max_memory_bytes():
    """Address-space limit of an extractor (``RLIMIT_AS``): by default enough
    for the largest image ASTRO_JOBS_MAX_PIXELS lets in."""
    default = MEMORY_BASE_MB + MEMORY_BYTES_PER_PIXEL * max_image_pixels() / 2**20
    return int(_number("ASTRO_JOBS_MAX_MEMORY_MB", default) * 1024 * 1024)


def max_output_bytes():
    """Largest file an extractor may write."""
    return int(_number("ASTRO_JOBS_MAX_OUTPUT_MB", 1024.0) * 1024 * 1024)


def api_key():
    """The key nova's clients log in with (``astro-jobs serve``); None: any key."""
    return _env("ASTRO_JOBS_API_KEY")


def allowed_hosts():
    """Names besides localhost and the listen address that ``astro-jobs serve``
    answers to (its public name behind a proxy); ``*`` turns the check off."""
    raw = _env("ASTRO_JOBS_ALLOWED_HOSTS", "")
    return {name.strip().lower().rstrip(".") for name in raw.split(",") if name.strip()}


def session_ttl_seconds():
    """How long a session of the API key lives (``astro-jobs serve``)."""
    return _number("ASTRO_JOBS_SESSION_TTL", 86400.0, float, 1.0)


def max_uploads():
    """Uploads ``astro-jobs serve`` receives at once; one more is answered 503."""
    return _number("ASTRO_JOBS_MAX_UPLOADS", 8, int, 1)


def url_upload_dirs():
    """Folders whose files ``astro-jobs serve`` accepts as file:// url_upload."""
    raw = _env("ASTRO_JOBS_URL_UPLOAD_DIRS", "")
    return [os.path.realpath(p) for p in raw.split(os.pathsep) if p.strip()]


# -- finish events: webhook and command hook (notify.py) ---------------------

def notify_url():
    """The webhook a submit uses when the caller names none."""
    return _env("ASTRO_JOBS_NOTIFY_URL")


def webhook_secret():
    """Key of the deliveries' HMAC-SHA256 signature; unsigned without one."""
    return _env("ASTRO_JOBS_WEBHOOK_SECRET")


def notify_timeout_seconds():
    return _number("ASTRO_JOBS_NOTIFY_TIMEOUT", 5.0, float, 0.1)


def notify_backoff_seconds():
    """Delay after the first failed delivery; it doubles after each further one."""
    return _number("ASTRO_JOBS_NOTIFY_BACKOFF", 2.0, float, 0.0)


def notify_attempts():
    return _number("ASTRO_JOBS_NOTIFY_ATTEMPTS", 6, int, 1)


def on_finish():
    """The program run when a job ends (argv: job id, state; stdin: the status)."""
    return _env("ASTRO_JOBS_ON_FINISH")


def on_finish_timeout_seconds():
    return _number("ASTRO_JOBS_ON_FINISH_TIMEOUT", 30.0, float, 0.1)
