"""The whole ``migrata`` command: the group with every command registered."""

from __future__ import annotations

from migrata.cli import commands, data_commands, operations  # noqa: F401 - each registers its commands on the group
from migrata.cli.group import cli

__all__ = ["cli"]
