"""Loaded (via PYTHONPATH) by every Python process of a node whose wall clock
is skewed with libfaketime; see support.skewed_clock.

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 (what NTP trouble looks
like: the wall clock is off, the monotonic clock is not) answers Python's
``time.sleep`` -- clock_nanosleep on an absolute monotonic deadline -- with
EINVAL. A sleep by ``select``, whose timeout is relative, is not affected.
Nothing else changes: the clocks stay libfaketime's.
"""
import select
import time


def _sleep(seconds):
    select.select([], [], [], seconds)


time.sleep = _sleep
