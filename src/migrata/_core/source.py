"""Finding and parsing migration files.

Accepted names (first match wins; custom patterns from the ``file_pattern``
setting are tried before these):

* ``000001_name.up.sql`` + ``000001_name.down.sql``  (migrata, golang-migrate)
* ``000001_name.sql`` with ``-- migrate:up`` / ``-- migrate:down`` sections
  (dbmate; goose ``-- +goose Up`` and sql-migrate ``-- +migrate Up`` too);
  without markers the whole file is the up part and there is no down
* ``000001_name.py`` with ``up(ctx)`` and optional ``down(ctx)``
* ``V1__name.sql``, ``V2_4_1__name.sql``, ``U1__name.sql`` (undo), ``R__name.sql``
  (Flyway)
* versions may be semantic with a build number (``v2.0.0-001_name.up.sql``,
  ``V2.0.0-001__name.sql``)

With ``ordering = "name"`` the whole base name (before ``.up.sql``,
``_up.sql``, ``.down.sql``, ``_down.sql``, ``.sql`` or ``.py``) is the
version, ordered by name; ``R__name.sql`` stays repeatable.

The set is checked as a whole before anything runs; every problem raises
:class:`~migrata.errors.MigrationFileError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migrata._core.directives import apply_directives, inherit_no_transaction
from migrata._core.model import Migration, Script, Step, Version, VersionKey
from migrata._core.pymigration import load_python
from migrata.errors import ConfigError, IrreversibleError, MigrationFileError

__all__ = [
    "Source",
    "checksum",
    "classify",
    "compile_patterns",
    "empty_down_error",
    "load_python",
    "load_source",
    "read_text",
    "split_sections",
    "sql_script",
]

# The leading integer is the version (dots make multi-part versions: 2.4.1);
# Flyway names also separate parts with underscores (V2_4_1__name.sql).
_V = r"v?(?P<version>\d+(?:\.\d+)*(?:-\d+(?:\.\d+)*)?)"
_FLYWAY_V = r"(?P<version>\d+(?:[._]\d+)*(?:-\d+(?:[._]\d+)*)?)"
_BUILTIN_PATTERNS: list[tuple[str, str]] = [
    # (regex, what a match is); direction comes from the group or the kind.
    (rf"^{_V}_(?P<name>.+)\.(?P<direction>up|down)\.sql$", "sql"),
    (rf"^V{_FLYWAY_V}__(?P<name>.+)\.sql$", "sql-up"),
    (rf"^U{_FLYWAY_V}__(?P<name>.+)\.sql$", "sql-down"),
    (r"^R__(?P<name>.+)\.sql$", "repeatable"),
    (rf"^{_V}_(?P<name>.+)\.py$", "py"),
    (rf"^{_V}_(?P<name>.+)\.sql$", "sql-single"),
]
# ordering = "name": the base name is the version; its name drops a leading number
_NAMED_V = r"(?P<version>(?:\d+[._-]?)?(?P<name>.+?))"
_NAMED_PATTERNS: list[tuple[str, str]] = [
    (r"^R__(?P<name>.+)\.sql$", "repeatable"),
    (rf"^{_NAMED_V}[._](?P<direction>up|down)\.sql$", "sql"),
    (rf"^{_NAMED_V}\.py$", "py"),
    (rf"^{_NAMED_V}\.sql$", "sql-single"),
]
_IGNORED_SUFFIXES = (".verify.sql",)
_ACCEPTED_FORMS = (
    "000001_name.up.sql/.down.sql, 000001_name.sql (-- migrate:up/-- migrate:down), "
    "000001_name.py, V1__name.sql, U1__name.sql, R__name.sql"
)


def read_text(path: Path | str) -> str:
    """Read a migration file as UTF-8 (a BOM is dropped); refuse anything else."""
    with open(path, "rb", buffering=0) as f:  # unbuffered: one read, no buffer object
        data = f.readall()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationFileError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            path=str(path),
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save the file as UTF-8",
        ) from None
    if "\x00" in text:  # no driver can send it: libpq cuts the text there, sqlite3 refuses it
        at = text.index("\x00")
        raise MigrationFileError(
            f"holds a NUL byte (offset {at}): no database driver can send one in SQL text",
            path=str(path),
            line=text.count("\n", 0, at) + 1,
            hint="delete it; a NUL in data is written as an escape or a function call (chr(0)), never as a raw byte",
        )
    return text[1:] if text.startswith("\ufeff") else text


def normalize(text: str) -> str:
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """SHA-256 of the text with line endings normalised (CRLF checkouts match)."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """Compile custom ``file_pattern`` regexes; each needs ``version`` and ``name`` groups."""
    compiled = []
    for text in patterns:
        try:
            rx = re.compile(text)
        except re.error as exc:
            raise ConfigError(f"file_pattern {text!r} is not a valid regular expression: {exc}") from None
        missing = {"version", "name"} - set(rx.groupindex)
        if missing:
            raise ConfigError(
                f"file_pattern {text!r} lacks the named group(s) {', '.join(sorted(missing))}",
                hint=r"e.g. file_pattern = '^V(?P<version>\d+)\.(?P<name>.+)\.(?P<direction>up|down)\.sql$'",
            )
        compiled.append(rx)
    return compiled


_BUILTIN = [(re.compile(rx), kind) for rx, kind in _BUILTIN_PATTERNS]
_NAMED = [(re.compile(rx), kind) for rx, kind in _NAMED_PATTERNS]


@dataclass(slots=True)
class _Part:
    path: Path
    kind: str  # "sql", "py", "repeatable", "single"
    direction: str  # "up", "down", "both"
    version: Version | None
    name: str


def classify(path: Path, custom: list[re.Pattern[str]], ordering: str = "number") -> _Part | None:
    """What the file at ``path`` is, or None when no pattern matches;
    ``ordering`` says how its base name becomes a version."""
    fname = path.name
    for rx in custom:
        m = rx.match(fname)
        if m:
            direction = (m.groupdict().get("direction") or "up").lower()
            if direction not in ("up", "down"):
                raise MigrationFileError(
                    f"file_pattern matched direction {direction!r}; it must be 'up' or 'down'",
                    path=str(path),
                )
            kind = "py" if fname.endswith(".py") else "sql"
            version = _custom_version(rx, m.group("version"), path, ordering)
            return _Part(path, kind, direction, version, m.group("name"))
    by_name = ordering == "name"
    for rx, what in _NAMED if by_name else _BUILTIN:
        m = rx.match(fname)
        if not m:
            continue
        name = m.group("name")
        if what == "repeatable":
            return _Part(path, "repeatable", "up", None, name)
        text = m.group("version")
        version = Version.named(text) if by_name else Version.from_digits(text)
        if what == "sql":
            return _Part(path, "sql", m.group("direction"), version, name)
        if what == "sql-up":
            return _Part(path, "sql", "up", version, name)
        if what == "sql-down":
            return _Part(path, "sql", "down", version, name)
        if what == "py":
            return _Part(path, "py", "both", version, name)
        return _Part(path, "single", "both", version, name)
    return None


def _custom_version(rx: re.Pattern[str], text: str | None, path: Path, ordering: str) -> Version:
    """The version a ``file_pattern`` captured; text that is no version is
    the pattern's fault (a setting), not the file's. By name, any text is."""
    if text is None or not Version.is_version(text, ordering):
        what = "any text but R__..." if ordering == "name" else "digits, parts separated by dots or underscores"
        raise ConfigError(
            f"file_pattern {rx.pattern!r} matches {path} but its version group captured {text!r}, "
            f"which is not a version ({what})",
            hint=r"make the group capture only the number, e.g. (?P<version>\d+), or set ordering = 'name'",
        )
    return Version.parse(text, ordering)


def _candidates(directory: Path) -> list[Path]:
    """The files that may be migrations, sorted by name. A name that looks
    like a migration but is no readable file (a folder, a broken symbolic
    link) is refused: skipping it would hide a migration."""
    with os.scandir(directory) as it:
        others = {entry.name for entry in it if not entry.is_file()}
    found = {}
    for path in directory.iterdir():  # makes each path without parsing the folder's part again
        name = path.name
        if name.endswith((".sql", ".py")) and not name.startswith((".", "_")) and not name.endswith(_IGNORED_SUFFIXES):
            found[name] = path
    for name in sorted(others & found.keys()):
        _refuse_non_file(found[name])
    return [found[name] for name in sorted(found)]


def _refuse_non_file(path: Path) -> None:
    if path.is_symlink() and not path.exists():
        what = f"a symbolic link to {os.readlink(path)}, which does not exist"
    elif path.is_dir():
        what = "a folder, not a file"
    else:
        what = "not a regular file"
    raise MigrationFileError(
        f"named like a migration but {what}", path=str(path), hint="fix or remove it, or rename it to start with '_'"
    )


# --- directives and sections --------------------------------------------------

_MARKER_RE = re.compile(
    r"^\s*--\s*(?:migrate:(?P<dbmate>up|down)(?P<opts>.*)"
    r"|\+(?:goose|migrate)\s+(?P<goose>up|down)(?P<gopts>.*))\s*$",
    re.I,
)
_MARKER_LIKE_RE = re.compile(r"^\s*--\s*(?:migrate\s*:|\+goose\b|\+migrate\b)", re.I)
_PY_REVISION_RE = re.compile(r"#\s*migrata:alembic-revision\s+(\S+)")
_NO_TX_OPTS = re.compile(r"transaction\s*:\s*false|notransaction|no[ _-]?transaction", re.I)
_TX_OPTS = re.compile(r"transaction\s*:\s*true", re.I)


def _leading_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` up to and including the first that is neither
    blank nor a ``--`` comment (files are not split whole to read a header)."""
    for line in _lines(text):
        yield line
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return


def sql_script(path: Path, text: str, line_offset: int = 0) -> Script:
    script = Script(path=path, sql=text, line_offset=line_offset)
    apply_directives(script, _leading_lines(text), path, line_offset + 1)
    return script


def split_sections(path: Path, text: str) -> tuple[Script, Script | None]:
    """Split a single file into up/down parts by dbmate/goose/sql-migrate markers."""
    lines = text.split("\n")
    marks: list[tuple[int, str, str]] = []  # (line index, direction, options)
    no_transaction = False  # goose's file-wide `-- +goose NO TRANSACTION`
    for i, line in enumerate(lines):
        if not _MARKER_LIKE_RE.match(line):
            continue
        m = _MARKER_RE.match(line)
        if not m:
            if re.match(r"^\s*--\s*\+goose\s+no\s+transaction\s*$", line, re.I):
                no_transaction = True
                continue
            # goose statement markers are harmless comments
            if re.match(r"^\s*--\s*\+goose\s+(statementbegin|statementend|envsub)", line, re.I):
                continue
            raise MigrationFileError(
                f"unknown section marker {line.strip()!r}",
                path=str(path),
                line=i + 1,
                hint="sections start with '-- migrate:up' and '-- migrate:down'",
            )
        direction = (m.group("dbmate") or m.group("goose")).lower()
        marks.append((i, direction, (m.group("opts") or m.group("gopts") or "")))
    if not marks:
        return sql_script(path, text), None
    seen = [d for _, d, _ in marks]
    if seen.count("up") != 1 or seen.count("down") > 1 or seen[0] != "up":
        raise MigrationFileError(
            "a single-file migration needs one '-- migrate:up' section, "
            "optionally followed by one '-- migrate:down' section",
            path=str(path),
            line=marks[0][0] + 1,
        )
    head = "\n".join(lines[: marks[0][0]])
    if any(ln.strip() and not ln.strip().startswith("--") for ln in head.split("\n")):
        raise MigrationFileError("SQL before the '-- migrate:up' marker", path=str(path), line=1)
    parts: list[Script] = []
    for n, (idx, _direction, opts) in enumerate(marks):
        end = marks[n + 1][0] if n + 1 < len(marks) else len(lines)
        body = "\n".join(lines[idx + 1 : end])
        script = sql_script(path, body, line_offset=idx + 1)
        apply_directives(script, _leading_lines(head), path, 1)
        if _TX_OPTS.search(opts) or script.explicit_transaction:  # the section's word wins over the head's
            script.transactional, script.explicit_transaction, script.explicit_no_transaction = True, True, False
        elif no_transaction or _NO_TX_OPTS.search(opts):
            script.transactional = False
            script.explicit_no_transaction = True
        parts.append(script)
    if len(parts) > 1:
        inherit_no_transaction(parts[0], parts[1])
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _blank_sql(text: str) -> bool:
    for line in _lines(text):
        s = line.strip()
        if s and not s.startswith("--") and s != ";":
            # block comments are rare in empty files; let the backend judge the rest
            if not (s.startswith("/*") and s.endswith("*/")):
                return False
    return True


def _lines(text: str) -> Iterator[str]:
    """``text.split("\\n")``, lazily: callers stop at the first line that decides."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


# --- the whole set ------------------------------------------------------------


@dataclass
class Source:
    """All migrations of a project, checked as a set. A separate down file
    (``.down.sql``, Flyway's ``U``) is found by its name and read when a
    step needs it (:meth:`read`): most commands only ask whether it exists."""

    directory: Path
    versioned: list[Migration] = field(default_factory=list)  # ascending version
    repeatables: list[Migration] = field(default_factory=list)  # by name
    allow_empty: bool = False
    ordering: str = "number"  # how file names and targets become versions

    def __post_init__(self) -> None:
        self._by_key = {m.version.key: m for m in self.versioned if m.version}

    def get(self, version: Version | str) -> Migration | None:
        if isinstance(version, str):
            if not Version.is_version(version, self.ordering):
                return None
            version = Version.parse(version, self.ordering)
        return self._by_key.get(version.key)

    @property
    def all(self) -> list[Migration]:
        return self.versioned + self.repeatables

    def load_python(self, migrations: Iterable[Migration] | None = None) -> None:
        """Import Python migrations (all, or those given); raises on the first broken one."""
        for m in self.all if migrations is None else migrations:
            if m.kind == "py":
                load_python(m)

    def read(self, migration: Migration, script: Script) -> None:
        """Read and check ``script`` of ``migration`` if only its name was seen.
        A step needs it: a down part with no SQL is refused as no down part."""
        self.read_downs([migration])
        if migration.down is None and migration.empty_down is not None and script.path == migration.empty_down:
            raise empty_down_error(migration)

    def read_downs(self, migrations: Iterable[Migration]) -> None:
        """Read the separate down files of ``migrations`` not read yet; one
        with no SQL means no down part (the one rule every command follows)."""
        for m in migrations:
            if m.down is not None and m.kind != "py" and m.down.sql is None:
                self._read_down(m, m.down)

    def _read_down(self, migration: Migration, script: Script) -> None:
        text = read_text(script.path)
        if _blank_sql(text) and not self.allow_empty:
            migration.down, migration.empty_down = None, script.path
            return
        parsed = sql_script(script.path, text)
        inherit_no_transaction(migration.up, parsed)
        script.sql, script.transactional, script.timeout = parsed.sql, parsed.transactional, parsed.timeout
        script.ddl_lock_timeout = parsed.ddl_lock_timeout
        script.explicit_no_transaction = parsed.explicit_no_transaction

    def read_steps(self, steps: Iterable[Step]) -> None:
        """Read what the steps will run."""
        for step in steps:
            self.read(step.migration, step.script)

    def read_all(self) -> None:
        """Read every part: the whole set checked (``validate``)."""
        self.read_downs(self.versioned)


def empty_down_error(m: Migration) -> IrreversibleError:
    """A rollback of ``m``, whose down part holds no SQL (so it has none)."""
    assert m.empty_down is not None
    where = m.empty_down.name if m.empty_down != m.path else f"its '-- migrate:down' section in {m.path.name}"
    return IrreversibleError(
        f"migration {m.label} has no down part ({where} holds no SQL); nothing was rolled back",
        hint=f"write the rollback SQL in {m.empty_down.name} (or set allow_empty = true to roll it back "
        "as a no-op), or roll back to a later version",
    )


def load_source(
    directory: Path,
    *,
    patterns: Iterable[str] = (),
    allow_empty: bool = False,
    must_exist: bool = True,
    ordering: str = "number",
) -> Source:
    """Discover, read and parse every migration in ``directory``; refuse a broken set."""
    if not directory.is_dir():
        if directory.exists():
            raise MigrationFileError(
                f"migrations folder {directory} is not a folder",
                hint="point `migrations` (or --migrations) at the folder that holds the migration files",
            )
        if must_exist:
            raise MigrationFileError(
                f"migrations folder {directory} does not exist",
                hint="create it with `migrata init`, or set `migrations` (or --migrations) to the right folder",
            )
        return Source(directory, ordering=ordering)
    custom = compile_patterns(patterns)
    ups: dict[VersionKey, _Up] = {}
    downs: dict[VersionKey, tuple[_Part, Script]] = {}
    repeatables: list[Migration] = []
    for path in _candidates(directory):
        part = classify(path, custom, ordering)
        if part is None:
            raise MigrationFileError(
                "file name does not parse as a migration",
                path=str(path),
                hint=f"accepted names: {_ACCEPTED_FORMS}; set file_pattern for other schemes",
            )
        _add_part(part, ups, downs, repeatables, allow_empty)
    versioned = []
    for key, (part, up, down, digest) in ups.items():
        if key in downs:
            down_part, down = downs.pop(key)
            if part.kind != "sql":
                raise MigrationFileError(
                    f"down part for version {part.version} but {part.path.name} already defines its down",
                    path=str(down_part.path),
                )
        kind = "py" if part.kind == "py" else "sql"
        versioned.append(Migration(part.version, part.name, kind, up, down, digest, description=part.name))
    if downs:
        orphan_part, _ = next(iter(downs.values()))
        raise MigrationFileError(
            f"down part without an up part for version {orphan_part.version}",
            path=str(orphan_part.path),
            hint="add the up file or delete this one",
        )
    versioned.sort(key=lambda m: m.version.key if m.version else ())
    repeatables.sort(key=lambda m: m.name)
    if not allow_empty:  # a '-- migrate:down' section with no SQL: no down part
        for m in versioned + repeatables:
            if m.down is not None and m.down.sql is not None and _blank_sql(m.down.sql):
                m.empty_down = m.down.path
                m.down = None
    return Source(directory, versioned, repeatables, allow_empty, ordering=ordering)


_Up = tuple[_Part, Script, Script | None, str]  # part, up, down, checksum


def _parse_part(part: _Part, allow_empty: bool) -> tuple[Script, Script | None, str]:
    """Read and check one file: (up, down, checksum). A separate down file
    is only named here: :meth:`Source.read` reads it when a step needs it."""
    if part.direction == "down":
        return Script(path=part.path), None, ""
    text = read_text(part.path)
    if part.kind == "py":
        revision = _PY_REVISION_RE.match(text)  # `# migrata:alembic-revision ID` on the first line
        up = Script(path=part.path, alembic_revision=revision.group(1) if revision else None)
        return up, Script(path=part.path), checksum(text)
    down: Script | None
    if part.kind in ("single", "repeatable"):
        up, down = split_sections(part.path, text)
    else:
        up, down = sql_script(part.path, text), None
    assert up.sql is not None
    if _blank_sql(up.sql) and not allow_empty:
        raise MigrationFileError(
            "empty migration (up part has no SQL)" if down is not None else "empty migration",
            path=str(part.path),
            hint="write the SQL or delete the file; set allow_empty = true to run empty files as no-ops",
        )
    return up, down, checksum(up.sql)


def _add_part(
    part: _Part,
    ups: dict[VersionKey, _Up],
    downs: dict[VersionKey, tuple[_Part, Script]],
    repeatables: list[Migration],
    allow_empty: bool,
) -> None:
    """Parse one file and file it under its version."""
    up, down, digest = _parse_part(part, allow_empty)
    if part.kind == "repeatable":
        repeatables.append(Migration(None, part.name, "sql", up, down, digest, description=part.name))
    elif part.direction == "down":
        _add_down(part, downs, up)
    else:
        _store_up(part, ups, up, down, digest)


def _add_down(part: _Part, downs: dict[VersionKey, tuple[_Part, Script]], script: Script) -> None:
    assert part.version is not None
    key = part.version.key
    if key in downs:
        raise _duplicate(part, downs[key][0])
    downs[key] = (part, script)


def _store_up(part: _Part, ups: dict[VersionKey, _Up], up: Script, down: Script | None, digest: str) -> None:
    assert part.version is not None
    key = part.version.key
    if key in ups:
        raise _duplicate(part, ups[key][0])
    ups[key] = (part, up, down, digest)


def _duplicate(part: _Part, other: _Part) -> MigrationFileError:
    return MigrationFileError(
        f"duplicate version {part.version}: also defined by {other.path.name}",
        path=str(part.path),
        hint="give one of them a new version number, or set ordering = 'name' if the set orders files by name",
    )
