"""The shared backend suite (migrata.testing.suite), run on every dialect chosen."""

from migrata.testing.suite import *  # noqa: F403
