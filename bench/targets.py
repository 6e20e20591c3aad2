"""Verdicts of the benchmarks: every figure printed beside its target, and
an exit code that is 0 only when every target was measured and met.

    from targets import Verdicts
    verdicts = Verdicts("bench/cli.py")
    verdicts.at_most("status / import click", ratio, 1.3)
    verdicts.at_least("images per minute", rate, 120, unit="/min")
    verdicts.not_measured("plain solve-field ratio", "<= 0.05", "--no-plain given")
    sys.exit(verdicts.finish())

A figure that is None or NaN is NOT MEASURED, never PASS: a benchmark that
skipped a target (an option, a missing image, a run that failed) says so
and exits non-zero, as it does after any FAIL.
"""
import math
import sys
from dataclasses import dataclass

PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "NOT MEASURED"


@dataclass
class Figure:
    name: str
    value: object
    target: str
    verdict: str
    note: str = ""

    def line(self):
        note = f"  ({self.note})" if self.note else ""
        return f"{self.verdict:<12}  {self.name}: {self.value}  target {self.target}{note}"


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def _shown(value, unit, digits):
    if isinstance(value, float):
        value = f"{value:.{digits}f}"
    return f"{value} {unit}".rstrip()


class Verdicts:
    """The figures of one benchmark run, printed as they are judged."""

    def __init__(self, title, stream=None):
        self.title = title
        self.figures = []
        self.stream = stream or sys.stdout

    def _add(self, figure):
        self.figures.append(figure)
        print(figure.line(), file=self.stream, flush=True)
        return figure.verdict

    def _judge(self, name, value, op, limit, unit, digits, note):
        target = f"{op} {_shown(limit, unit, digits)}"
        if _missing(value):
            return self._add(Figure(name, "not measured", target, NOT_MEASURED, note))
        met = {"<=": value <= limit, ">=": value >= limit, "==": value == limit}[op]
        return self._add(Figure(name, _shown(value, unit, digits), target,
                                PASS if met else FAIL, note))

    def at_most(self, name, value, limit, unit="", digits=3, note=""):
        """PASS when ``value <= limit``; its verdict."""
        return self._judge(name, value, "<=", limit, unit, digits, note)

    def at_least(self, name, value, limit, unit="", digits=3, note=""):
        """PASS when ``value >= limit``; its verdict."""
        return self._judge(name, value, ">=", limit, unit, digits, note)

    def equal(self, name, value, expected, unit="", note=""):
        """PASS when ``value == expected`` (a count of failures, say); its verdict."""
        return self._judge(name, value, "==", expected, unit, 3, note)

    def not_measured(self, name, target, why):
        """A target this run did not measure, and why: never a PASS."""
        return self._add(Figure(name, "not measured", target, NOT_MEASURED, why))

    def counts(self):
        return {verdict: sum(f.verdict == verdict for f in self.figures)
                for verdict in (PASS, FAIL, NOT_MEASURED)}

    def finish(self):
        """Print the summary; the exit code: 0 only if every figure passed (and there was one)."""
        counts = self.counts()
        ok = self.figures and counts[PASS] == len(self.figures)
        print(f"{self.title}: {counts[PASS]} PASS, {counts[FAIL]} FAIL, "
              f"{counts[NOT_MEASURED]} NOT MEASURED: {'PASS' if ok else 'FAIL'}",
              file=self.stream, flush=True)
        return 0 if ok else 1
