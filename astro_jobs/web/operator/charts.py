"""The night's chart: jobs ended per hour by outcome, errors stacked on top, as SVG.

No charting library: the bars are rectangles a template draws. This module
turns the stats index's hourly counts into their sizes.
"""
from ...timefmt import utc_datetime

WIDTH, HEIGHT = 480.0, 120.0
AXIS = 16.0  # room for the hour labels under the bars
SERIES = ("solved", "unsolved", "error", "cancelled")  # bottom to top


def _scale(highest):
    """A round top for the axis, at least 1."""
    for top in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if highest <= top:
            return top
    return highest


def _label(hour_iso):
    return utc_datetime(hour_iso).strftime("%H")


def jobs_per_hour(bins):
    """Bars of ``api.activity()``'s bins: each hour's stacked rectangles and label."""
    top = _scale(max([sum(b[s] for s in SERIES) for b in bins] or [0]))
    slot = WIDTH / max(1, len(bins))
    plot = HEIGHT - AXIS
    bars = []
    for n, hour in enumerate(bins):
        base, parts = plot, []
        for series in SERIES:
            height = round(hour[series] / top * plot, 2)
            if height:
                base -= height
                parts.append({"series": series, "y": round(base, 2), "height": height})
        bars.append({"x": round(n * slot + 1, 2), "width": round(slot - 2, 2),
                     "parts": parts, "hour": hour["hour"], "label": _label(hour["hour"]),
                     "title": f"{_label(hour['hour'])}:00 UTC: " + ", ".join(
                         f"{hour[series]} {series}" for series in SERIES)})
    return {"width": WIDTH, "height": HEIGHT, "plot": plot, "top": top, "bars": bars,
            "total": sum(sum(b[s] for s in SERIES) for b in bins),
            "errors": sum(b["error"] for b in bins)}
