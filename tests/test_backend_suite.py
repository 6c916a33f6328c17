"""The shared backend suite (migrata.testing.suite), run on every dialect chosen."""

import pytest

# a failed check of the suite shows its values, as in a test module of our own
pytest.register_assert_rewrite("migrata.testing.suite")

from migrata.testing.suite import *  # noqa: E402, F403
