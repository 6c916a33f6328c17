"""The engine's plain data: versions, migrations, history rows and plans."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Direction = Literal["up", "down"]

#: History row states.
APPLIED = "applied"
RUNNING = "running"
FAILED = "failed"
#: A Python migration whose backfill was interrupted: `up` runs it again and
#: the backfill resumes after its last committed batch.
RESUMABLE = "resumable"

#: How a file's base name becomes a version (the ``ordering`` setting).
ORDERINGS = ("number", "name")

# digits in parts (dots or underscores), then optionally a build number after
# a hyphen, as semantic versions are written for migrations (2.0.0-001)
_VERSION_RE = re.compile(r"^\d+(?:[._]\d+)*(?:-\d+(?:[._]\d+)*)?$")
_PARTS_RE = re.compile(r"[._-]")
_RELEASE_END = -1  # in a key: the release parts end here and the build number follows
_NAME_TAG = -2  # first item of a name's key: no number key starts with it


def _trim(parts: tuple[int, ...]) -> tuple[int, ...]:
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts


VersionKey = tuple[int | str, ...]  # what versions compare by (Version.key)


class Version:
    """A migration version, one type for the three ways a set orders them.

    * A number (``ordering = "number"``, the default): integer parts compared
      as numbers. ``2`` sorts before ``10``, zero padding is optional
      (``000002 == 2``) and multi-part versions (``2.4.1``, ``2_4_1``)
      compare part by part, trailing zero parts ignored (``1.0 == 1``).
    * A semantic version with a build number (``2.0.0-001``, also under
      ``"number"``): the release parts first, then the build number, so
      ``2.0.0-001 < 2.0.0-002 < 2.1.0-001 < 10.0.0-001``; a bare ``2.0.0``
      sorts before its numbered builds.
    * A name (``ordering = "name"``): the text as written, ordered by name.

    Immutable; ``key`` (what is compared) and ``canonical`` (the form stored
    in history) are worked out once, when it is made: a command compares and
    prints every migration's version. Keys of different kinds never raise
    when compared (a name's key starts with a tag no number has).
    """

    __slots__ = ("canonical", "key", "parts", "text")

    parts: tuple[int, ...]  # the numbers, the build number's last; () for a name
    text: str  # as written (file name or command line)
    key: VersionKey
    canonical: str  # parts without padding, joined by dots (build after '-'); a name as written

    def __init__(self, parts: tuple[int, ...], text: str, release: int | None = None) -> None:
        """A number version; ``release``: how many of ``parts`` come before
        a build number (None: there is none)."""
        setattr_ = object.__setattr__
        setattr_(self, "parts", parts)
        setattr_(self, "text", text)
        if release is None:
            setattr_(self, "key", _trim(parts))
            setattr_(self, "canonical", str(parts[0]) if len(parts) == 1 else ".".join(map(str, parts)))
        else:
            head, build = parts[:release], parts[release:]
            setattr_(self, "key", (*_trim(head), _RELEASE_END, *_trim(build)))
            setattr_(self, "canonical", ".".join(map(str, head)) + "-" + ".".join(map(str, build)))

    @classmethod
    def named(cls, text: str) -> Version:
        """A version that is a name, ordered by name (``ordering = "name"``)."""
        self = cls.__new__(cls)
        setattr_ = object.__setattr__
        setattr_(self, "parts", ())
        setattr_(self, "text", text)
        setattr_(self, "key", (_NAME_TAG, text))
        setattr_(self, "canonical", text)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a Version does not change")

    def __repr__(self) -> str:
        return f"Version(parts={self.parts!r}, text={self.text!r})" if self.parts else f"Version.named({self.text!r})"

    @classmethod
    def parse(cls, text: str, ordering: str = "number") -> Version:
        """The version ``text`` (a file's version, a target, a history row)
        means in a set ordered by ``ordering``; ValueError when it means none."""
        text = text.strip()
        if ordering == "name":
            if not text or text.startswith("R__"):
                raise ValueError(f"not a version: {text!r}")
            return cls.named(text)
        if text[:1] in ("V", "v") and _VERSION_RE.match(text[1:]):
            text = text[1:]
        if not _VERSION_RE.match(text):
            raise ValueError(f"not a version: {text!r}")
        return cls.from_digits(text)

    @classmethod
    def from_digits(cls, text: str) -> Version:
        """A version from text a file-name pattern already matched as digits
        separated by dots or underscores, maybe with a build number after a
        hyphen (no second check)."""
        if text.isdigit():  # the common case: one part
            return cls((int(text),), text)
        release, dash, build = text.partition("-")
        parts = tuple(map(int, _PARTS_RE.split(text)))
        return cls(parts, text, len(_PARTS_RE.split(release)) if dash else None)

    @staticmethod
    def is_version(text: str, ordering: str = "number") -> bool:
        text = text.strip()
        if ordering == "name":
            return bool(text) and not text.startswith("R__")
        if text[:1] in ("V", "v"):
            text = text[1:]
        return bool(_VERSION_RE.match(text))

    def __str__(self) -> str:
        return self.canonical

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(slots=True)
class Script:
    """One direction of a migration: SQL text (or a Python callable) and its options."""

    path: Path
    sql: str | None = None  # None for Python migrations
    line_offset: int = 0  # lines of the file before this part starts
    transactional: bool = True
    timeout: float | None = None  # seconds, from `-- migrata:timeout`
    ddl_lock_timeout: float | None = None  # seconds, from `-- migrata:ddl-lock-timeout` (0: off; None: the setting)
    explicit_no_transaction: bool = False  # the author asked for it
    explicit_transaction: bool = False  # the author asked for a transaction (a down part overriding its up part)
    alembic_revision: str | None = None  # `-- migrata:alembic-revision ID`: imported from Alembic
    #: `-- migrata:baseline-of FIRST..LAST [archive DIR]`: written by `migrata squash`
    baseline_of: tuple[str, str] | None = None
    baseline_archive: str | None = None


@dataclass(slots=True)
class Migration:
    """A versioned or repeatable migration as found in the migrations folder."""

    version: Version | None  # None for repeatable migrations
    name: str
    kind: str  # "sql" or "py"
    up: Script
    down: Script | None
    checksum: str
    description: str = ""
    empty_down: Path | None = None  # its down part holds no SQL: it has none (allow_empty: a no-op)

    @property
    def repeatable(self) -> bool:
        return self.version is None

    @property
    def id(self) -> str:
        """Key of this migration's history row."""
        return self.version.canonical if self.version else f"R__{self.name}"

    @property
    def path(self) -> Path:
        return self.up.path

    @property
    def label(self) -> str:
        if self.kind == "file":  # a file checked on its own (validate --file)
            return self.name
        if self.version is None:
            return f"R__{self.name}"
        if not self.version.parts and self.id.endswith(self.name):  # a name that spells it already
            return self.id
        return f"{self.id} {self.name}"


@dataclass(slots=True)
class AppliedMigration:
    """One row of the history table (``version_key``: the version's parts,
    None for a repeatable migration or a version migrata cannot read)."""

    version: str
    name: str
    kind: str
    checksum: str
    status: str
    applied_at: str
    duration_ms: int | None = None
    applied_by: str | None = None
    error: str | None = None
    progress: int | None = None  # statements completed (journal), for non-transactional runs
    statements: int | None = None  # statements in the run
    direction: str | None = None  # "up" or "down": what the last run did (dirty rows)
    version_key: VersionKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        v = self.version
        if v.isdigit():  # the common case: a one-part version
            self.version_key = (int(v),)
        elif self.repeatable or not Version.is_version(v):
            self.version_key = None
        else:
            self.version_key = Version.parse(v).key

    def order_by(self, ordering: str) -> AppliedMigration:
        """This row keyed as a set ordered by ``ordering`` reads its version
        (rows are read as numbers first: the default)."""
        if ordering != "number" and not self.repeatable:
            self.version_key = Version.parse(self.version, ordering).key if self.version.strip() else None
        return self

    @property
    def repeatable(self) -> bool:
        return self.kind == "repeatable" or self.version.startswith("R__")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


@dataclass
class Step:
    """One migration to run in one direction."""

    migration: Migration
    direction: Direction
    reason: str = ""  # "pending", "out of order", "changed", "rollback"

    @property
    def script(self) -> Script:
        if self.direction == "up":
            return self.migration.up
        assert self.migration.down is not None
        return self.migration.down


@dataclass
class Plan:
    """What a command would do, in order."""

    direction: Direction
    steps: list[Step] = field(default_factory=list)
    target: str | None = None
    current: str | None = None  # version before the plan runs

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class Problem:
    """Something wrong with the files or the history."""

    code: str  # "checksum", "missing", "renamed", "failed", "running", "out-of-order", "file", "gap", ...
    message: str
    version: str | None = None
    severity: str = "error"  # "error" or "warning"
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def refusals(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that make the set unsound: the one rule behind
    ``validate``/``check`` failing and ``up``/``down`` refusing to run."""
    return [p for p in problems if p.severity == "error"]


@dataclass(slots=True)
class MigrationState:
    """One line of ``info``: a migration file and/or its history row."""

    version: str
    name: str
    kind: str
    state: str  # applied, pending, out-of-order, changed, failed, running, missing, renamed, outdated, baseline,
    # squashed (applied before `migrata squash` archived its file into a baseline)
    checksum: str | None = None  # of the file
    applied_checksum: str | None = None
    applied_at: str | None = None
    duration_ms: int | None = None
    applied_by: str | None = None
    path: str | None = None
    has_down: bool | None = None
    error: str | None = None
    progress: int | None = None
    statements: int | None = None
    direction: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepResult:
    """One step of a run, as it ended."""

    version: str
    name: str
    direction: str
    status: str  # "applied", "rolled back", "failed"
    duration_ms: int
    statements: int | None
    mode: str
    reason: str = ""
    error: str | None = None
    lock_retries: int = 0  # attempts that gave up waiting for a lock (ddl_lock_timeout) and ran again
    backfills: list[BackfillReport] = field(default_factory=list)  # ctx.backfill calls of a Python migration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BackfillReport:
    """What one backfill did (or, in a dry run, would do): rows done,
    skipped (the row function returned None) and failed (it raised
    ``RowError``: the first keys are kept, never values)."""

    table: str
    name: str
    done: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    total: int | None = None  # rows the backfill covers (counted when it started)
    resumed_after: int = 0  # rows an earlier, interrupted run had done
    paused_s: float = 0.0  # time spent waiting for replica lag
    seconds: float = 0.0
    failed_keys: list[Any] = field(default_factory=list)
    status: str = "done"  # "done", "running", "dry-run"

    @property
    def rows_per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1)}
