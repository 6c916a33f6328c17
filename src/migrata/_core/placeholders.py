"""Placeholders, as Flyway has them: ``${name}`` in a migration's SQL replaced
by a value from the ``placeholders`` setting (``[placeholders]`` in the
config, ``MIGRATA_PLACEHOLDER_NAME``, ``--placeholder name=value``).

Replacement happens in one place, where the runner prepares a step's SQL
(:func:`~migrata._core.runner.prepare_step`), so the transaction, journal,
one-call and ``--sql`` paths all run the same text; checksums are taken over
the file as written (:mod:`~migrata._core.source`), so a changed value is
not an edit. It is on only when at least one placeholder is defined: a set
that holds the prefix as text is unchanged otherwise. Names are matched
without regard to case (an environment variable spells them upper-case).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from migrata.errors import MigrationFileError

__all__ = ["DEFAULT_PREFIX", "DEFAULT_SUFFIX", "Placeholders"]

DEFAULT_PREFIX = "${"
DEFAULT_SUFFIX = "}"


@dataclass(frozen=True)
class Placeholders:
    """The values of a project's placeholders and how the SQL spells them."""

    values: Mapping[str, str]
    prefix: str = DEFAULT_PREFIX
    suffix: str = DEFAULT_SUFFIX
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lowered = {name.lower(): value for name, value in self.values.items()}
        object.__setattr__(self, "values", lowered)
        # the shortest text between prefix and suffix on one line (Flyway's rule)
        rx = re.compile(re.escape(self.prefix) + r"(?P<name>[^\r\n]+?)" + re.escape(self.suffix))
        object.__setattr__(self, "_pattern", rx)

    @property
    def active(self) -> bool:
        """Whether replacement is on: at least one placeholder is defined."""
        return bool(self.values)

    def replace(self, sql: str, path: Path | str, first_line: int = 1) -> str:
        """``sql`` (a part of ``path`` starting at line ``first_line``) with every
        placeholder replaced; an unknown one is a MigrationFileError naming the
        file, the line and the name."""
        if not self.values or self.prefix not in sql:
            return sql

        def one(match: re.Match[str]) -> str:
            name = match.group("name")
            value = self.values.get(name.lower())
            if value is None:
                raise self._unknown(name, path, first_line + sql.count("\n", 0, match.start()))
            return value

        return self._pattern.sub(one, sql)

    def _unknown(self, name: str, path: Path | str, line: int) -> MigrationFileError:
        known = ", ".join(sorted(self.values))
        env = "MIGRATA_PLACEHOLDER_" + re.sub(r"\W", "_", name).upper()
        return MigrationFileError(
            f"unknown placeholder {self.prefix}{name}{self.suffix} (defined: {known})",
            path=str(path),
            line=line,
            hint=f"define it: `{name} = ...` under [placeholders] in the config, {env}=..., or "
            f"--placeholder {name}=...",
        )
