"""What the data commands return: ``data load``/``dump`` and ``crypto``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LoadResult", "DumpResult", "CryptoResult", "DataKeyResult"]


@dataclass
class LoadResult:
    """What ``migrata data load`` did: rows upserted into ``table``, keyed on ``keys``."""

    table: str
    source: str
    format: str
    keys: list[str]
    rows: int = 0
    batches: int = 0
    columns: list[str] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DumpResult:
    """What ``migrata data dump`` wrote: ``rows`` rows of ``table`` to ``target``."""

    table: str
    target: str
    format: str
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CryptoResult:
    """What ``migrata crypto rotate`` did to ``table.column``: rows
    re-encrypted under the newest key (``done``), already under it or NULL
    (``skipped``) and that no key decrypts (``failed``: their row keys in
    ``failed_keys``, never a value). ``keys`` are key references
    (``env:NAME``) or data-key versions, never keys."""

    table: str
    column: str
    scheme: str  # "fernet" or "envelope"
    keys: list[str]
    done: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    resumed_after: int = 0
    failed_keys: list[Any] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DataKeyResult:
    """The data keys after ``migrata crypto rotate-data-key`` or
    ``retire-data-keys``: (version, status, expires_at) of each, the
    ``active`` version, the versions ``retired`` now and the ones ``kept``
    ({version: values still encrypted with it})."""

    table: str
    active: int | None
    keys: list[dict[str, Any]] = field(default_factory=list)
    created: int | None = None
    retired: list[int] = field(default_factory=list)
    kept: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
