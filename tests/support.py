"""Forwards to harness.support, where the helpers tests/ and bench/ share
live; kept so the tests' `from support import ...` lines stay as they are."""
from harness.support import *  # noqa: F401,F403
