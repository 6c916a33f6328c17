"""The whole ``migrata`` command: the group with every command registered."""

from __future__ import annotations

from migrata.cli import (  # noqa: F401 - each registers its commands on the group
    commands,
    crypto_commands,
    data_commands,
    import_commands,
    operations,
    schema_commands,
)
from migrata.cli.group import cli

__all__ = ["cli"]
