"""What the schema commands return: ``autogenerate``, ``squash`` and ``diff``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AutogenerateResult", "SquashResult", "DiffResult"]


@dataclass
class AutogenerateResult:
    """``autogenerate``: the files written (none when nothing changed), the
    differences found, likely renames and data-losing drops to review."""

    version: str | None
    files: list[str]
    differences: list[str]
    notes: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


@dataclass
class SquashResult:
    """``squash``: the baseline written for versions ``first`` to
    ``version``, the files moved to ``archive``, and whether a ``squash``
    event went to the configured database (it needs migrata's tables)."""

    version: str
    first: str
    baseline: str
    archive: str
    archived: list[str]
    seed_tables: list[str] = field(default_factory=list)
    recorded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DiffResult:
    """``diff``: each comparison (left, right, differences as dicts and
    lines) and the object kinds that were not compared."""

    database: str
    comparisons: list[dict[str, Any]]
    not_compared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(c["differences"] for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift": self.drift}
