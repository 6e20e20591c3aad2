"""What a person at a terminal sees while ``wait`` waits: one updating line."""
import time

from ..timefmt import parse_iso

REDRAW_SECONDS = 0.2


def describe(status, now=None):
    """``processing · solving · 12.4 s · attempt 1/3``: where the job is."""
    now = time.time() if now is None else now
    since = status.get("started_at") if status["state"] == "processing" else None
    since = since or status.get("queued_at") or status.get("created_at")
    try:
        elapsed = f"{max(0.0, now - parse_iso(since)):.1f} s"
    except (TypeError, ValueError):
        elapsed = "?"
    parts = [status["state"]]
    if status["state"] == "done" and status.get("solved"):
        parts.append("solved")
    if status.get("stage"):
        parts.append(status["stage"])
    parts.append(elapsed)
    attempt = f"attempt {status.get('attempts', 1)}"
    if status.get("max_attempts"):
        attempt += f"/{status['max_attempts']}"
    parts.append(attempt)
    return " · ".join(parts)


class ProgressLine:
    """Redraws one line on ``stream`` (a terminal): at once when the job moves on,
    else at most every REDRAW_SECONDS for the clock."""

    def __init__(self, stream, prefix=""):
        self.stream = stream
        self.prefix = prefix
        self.drawn = None  # (state, stage) last drawn
        self.last_draw = 0.0

    def __call__(self, status):
        moved = (status["state"], status.get("stage")) != self.drawn
        if moved or time.monotonic() - self.last_draw >= REDRAW_SECONDS:
            self.draw(status)

    def draw(self, status, text=None):
        self.drawn = (status["state"], status.get("stage"))
        self.last_draw = time.monotonic()
        self.stream.write("\r" + self.prefix + (text or describe(status)) + "\x1b[K")
        self.stream.flush()

    def close(self, status=None, unsolved=None):
        """Draw the final state and end the line, so stdout starts on a fresh one.

        ``unsolved``: why a done job found no solution; the line then says
        ``not solved: ...`` instead of a bare ``done``."""
        if status is not None:
            self.draw(status, f"not solved: {unsolved}" if unsolved else None)
        if self.drawn is not None:
            self.stream.write("\n")
            self.stream.flush()
