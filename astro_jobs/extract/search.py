"""Run the plan's rounds until one verifies a solution or time runs out."""
import time
from dataclasses import dataclass, field
from typing import List, Optional

from . import solver
from .progress import log

# Fewer stars than this cannot form two quads to match and verify.
MIN_STARS = 6
# Less time than this left is not worth starting solve-field for.
MIN_ROUND_S = 0.3


@dataclass
class Search:
    """How a search went: the winner (or None), why not, and what it cost."""

    winner: Optional[solver.Outcome] = None
    reason: Optional[str] = None
    solve_s: float = 0.0
    attempts: int = 0
    rejected: List[str] = field(default_factory=list)


def search(rounds, stars, width, height, workdir, indexes, deadline, cut_reason="timeout"):
    """Race each round's attempts in turn (stars: a stars.StarLists) until `deadline`,
    which makes `cut_reason` the reason when it cuts the search short."""
    result = Search()
    number = 0
    for attempts in rounds:
        if deadline - time.monotonic() < MIN_ROUND_S:
            log("search stopped: deadline reached")
            result.reason = cut_reason
            return result
        usable = [a for a in attempts if len(stars.get(a.detection)[2]) >= MIN_STARS]
        if not usable:
            continue
        lists = [stars.for_solver(a.detection, a.max_stars) for a in usable]
        started = time.monotonic()
        winner, finished = solver.race(usable, lists, width, height, workdir, indexes, deadline,
                                       first=number)
        result.solve_s += time.monotonic() - started
        number += len(usable)
        result.attempts += len(finished)
        result.rejected += [o.rejected for o in finished if o.rejected]
        if winner is not None:
            result.winner = winner
            return result
        if time.monotonic() >= deadline - 0.05:
            result.reason = cut_reason
            return result
    result.reason = "no_match_in_scale_range"
    return result
