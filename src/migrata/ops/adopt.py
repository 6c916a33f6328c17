"""``migrata adopt``: take over a database another migration tool kept.

The other tool's history table is read, never written, and the versions it
counts as applied are recorded in migrata's history through the path
``stamp`` uses (:func:`migrata.ops.repair.record_applied`), with one
``adopt`` event naming the tool and how many. What each table holds, as the
tool itself creates it:

* golang-migrate ``schema_migrations (version bigint, dirty boolean)``: one
  row, the current version; every version up to it counts as applied. A
  ``dirty`` row means that migration failed part-way: refused.
* dbmate ``schema_migrations (version varchar(255))``: one row per applied
  migration.
* goose ``goose_db_version (id, version_id, is_applied, tstamp)``: one row
  per up (older releases: also per down) event; the newest row of a version
  decides. Version 0 is goose's own first row.
* Flyway ``flyway_schema_history (installed_rank, version, description,
  type, script, checksum, installed_by, installed_on, execution_time,
  success)``: one row per run. A failed row is refused; a ``BASELINE`` row
  counts every version up to it as applied (no file needed); ``UNDO_*`` and
  ``DELETE`` rows take a version back; a repeatable (no version) counts as
  applied when its file's Flyway checksum still matches the one of its last
  run, so it runs again exactly when Flyway would have run it again.
* Alembic ``alembic_version (version_num)``: one row, the head revision
  (several rows: several heads, refused). The migration whose file records
  that revision (``-- migrata:alembic-revision ID``, written by ``migrata
  import alembic``) and every version before it count as applied. ``up``
  does this by itself, once (:func:`take_over_alembic`).

Versions match the way migrata compares them, by their numbers: golang-migrate's
``1`` and goose's ``1`` are the file ``000001_x.up.sql`` (leading zeros do not
count), dbmate's ``20240101120000`` is ``20240101120000_x.sql``, Flyway's
``1.1`` is ``V1_1__x.sql``. Every version the tool applied must have a file.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from migrata import results
from migrata._core.model import APPLIED, FAILED, RUNNING, AppliedMigration, Migration, Version, VersionKey
from migrata._core.source import Source, load_source
from migrata.backends.base import Backend
from migrata.errors import DirtyStateError, UsageError, ValidationError
from migrata.ops.repair import record_applied
from migrata.session import Session
from migrata.util import events_table_name

__all__ = ["TABLES", "adopt_history", "flyway_checksum", "take_over_alembic"]

#: Each tool's history table, by default.
TABLES = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "flyway": "flyway_schema_history",
    "goose": "goose_db_version",
    "alembic": "alembic_version",
}


@dataclass
class _Theirs:
    """What the other tool's table says is applied."""

    versions: dict[VersionKey, Version] = field(default_factory=dict)  # exactly these
    upto: Version | None = None  # golang-migrate: every version up to this one
    baseline: Version | None = None  # Flyway: every version up to this one, files or not
    checksums: dict[VersionKey, int | None] = field(default_factory=dict)  # Flyway, per version
    repeatables: dict[str, int | None] = field(default_factory=dict)  # Flyway: script name -> checksum


def adopt_history(sess: Session, tool: str, table: str | None, *, dry_run: bool) -> results.AdoptResult:
    """What :func:`migrata.api.adopt` does, on an open session."""
    if tool not in TABLES:
        raise UsageError(f"unknown tool {tool!r}", hint=f"adopt from one of: {', '.join(TABLES)}")
    if sess.settings.ordering != "number":
        raise UsageError(
            f"{tool} numbers its versions; this set is ordered by name (ordering = 'name'), so none would match",
            hint="record what is applied with `migrata stamp NAME` (the last applied file's base name)",
        )
    table = table or TABLES[tool]
    own = sess.settings.table
    if table in (own, events_table_name(own)):
        raise UsageError(
            f"{table} is migrata's own table (--table names migrata's history table)",
            hint=f"name the {tool} table with --from-table, e.g. `migrata adopt --from {tool} --from-table {table}`",
        )
    if not sess.database_exists():
        raise UsageError(f"{sess.database} does not exist: there is no {tool} history to adopt")
    theirs = _read(sess.backend, tool, table, sess.database, sess.source)
    chosen, baselines, warnings = _choose(tool, table, theirs, sess.source)
    found = [m.id for m in chosen] + baselines
    rows = sess.rows()
    new, new_baselines = _new(chosen, baselines, rows)
    if not dry_run and (new or new_baselines):
        with sess.locked():
            new, new_baselines = _new(chosen, baselines, sess.ledger.read())  # as it is under the lock
            if new or new_baselines:
                detail = {"tool": tool, "table": table, "count": len(new) + len(new_baselines)}
                record_applied(sess, new, new_baselines, [], "adopt", None, detail)
    added = [m.id for m in new] + new_baselines
    already = [v for v in found if v not in added]
    return results.AdoptResult(tool, table, found, added, already, warnings, dry_run)


def _new(
    chosen: list[Migration], baselines: list[str], rows: list[AppliedMigration]
) -> tuple[list[Migration], list[str]]:
    """Of ``chosen`` and ``baselines``, those migrata's history does not hold yet."""
    dirty = [r for r in rows if r.status in (FAILED, RUNNING)]
    if dirty:
        raise DirtyStateError(
            f"migrata's history has a {dirty[0].status} run of {dirty[0].version}; repair it before adopting",
            hint=f"`migrata repair {dirty[0].version}`",
        )
    keys = {r.version_key for r in rows if r.version_key is not None}
    ids = {r.version for r in rows}
    new = [m for m in chosen if (m.version.key not in keys if m.version else m.id not in ids)]
    return new, [b for b in baselines if Version.parse(b).key not in keys]


# --- choosing the files ------------------------------------------------------------------


def _choose(tool: str, table: str, theirs: _Theirs, source: Source) -> tuple[list[Migration], list[str], list[str]]:
    """The migrations the other tool applied, versions to record as ``baseline``
    rows (no file), and warnings. Every applied version needs its file."""
    chosen: dict[str, Migration] = {}
    missing: list[str] = []
    warnings: list[str] = []
    for limit in (theirs.upto, theirs.baseline):
        if limit is not None:
            chosen.update((m.id, m) for m in source.versioned if m.version is not None and m.version <= limit)
    if theirs.upto is not None and source.get(theirs.upto) is None:
        missing.append(theirs.upto.text)
    base = theirs.baseline
    baselines = [base.canonical] if base is not None and source.get(base) is None else []
    for key in sorted(theirs.versions):
        version = theirs.versions[key]
        if base is not None and version <= base:
            continue  # counted by the baseline
        m = source.get(version)
        if m is None:
            missing.append(version.text)
            continue
        chosen[m.id] = m
        checksum = theirs.checksums.get(key)
        if checksum is not None and m.kind == "sql" and flyway_checksum(m.path) != checksum:
            warnings.append(f"{m.path.name} differs from the file Flyway applied; migrata records it as it is now")
    if missing:
        raise ValidationError(
            f"{len(missing)} version(s) that {tool} applied (in {table}) have no migration file in "
            f"{source.directory}: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""),
            hint=f"copy those files into {source.directory} (or point --migrations at the {tool} folder); "
            "versions match by number, leading zeros do not count",
        )
    versioned = sorted(chosen.values(), key=lambda m: m.version.key if m.version is not None else ())
    return versioned + _repeatables(theirs, source, warnings), baselines, warnings


def _repeatables(theirs: _Theirs, source: Source, warnings: list[str]) -> list[Migration]:
    """Flyway's repeatables whose files are as Flyway last ran them."""
    chosen = []
    files = {m.path.name for m in source.repeatables}
    for m in source.repeatables:
        if m.path.name not in theirs.repeatables:
            continue  # Flyway never ran it: pending
        if theirs.repeatables[m.path.name] == flyway_checksum(m.path):
            chosen.append(m)
        else:
            warnings.append(f"{m.path.name} changed since Flyway last ran it: `migrata up` runs it again")
    for name in sorted(set(theirs.repeatables) - files):
        warnings.append(f"Flyway ran {name}, which has no file here")
    return chosen


def flyway_checksum(path: Path) -> int:
    """Flyway's checksum of a file: CRC-32 over its lines' UTF-8 bytes without
    line breaks (and without a BOM), as a signed 32-bit integer."""
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines[-1] == "":
        lines.pop()  # a final line break ends the last line; it does not start another
    crc = 0
    for line in lines:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


# --- reading the other tool's table ------------------------------------------------------


def _read(backend: Backend, tool: str, table: str, database: str, source: Source) -> _Theirs:
    if "." not in table and not backend.tables_present([table]):
        raise UsageError(
            f"{database} has no {tool} history table {table}",
            hint=f"name it with --from-table (the {tool} default is {TABLES[tool]})",
        )
    name = ".".join(backend.quote_ident(part) for part in table.split("."))
    if tool == "alembic":
        return _alembic(backend.query, name, table, source, database)
    readers = {"golang-migrate": _golang_migrate, "dbmate": _dbmate, "goose": _goose, "flyway": _flyway}
    return readers[tool](backend.query, name, table)


def _version(value: Any, tool: str, table: str) -> Version:
    text = str(value).strip()
    if not Version.is_version(text):
        raise ValidationError(f"{tool} version {text!r} in {table} is not a version migrata can match to a file")
    return Version.parse(text)


def _golang_migrate(query: Any, name: str, table: str) -> _Theirs:
    rows = query(f"SELECT version, dirty FROM {name}")
    if not rows:
        return _Theirs()  # golang-migrate empties the table when nothing is applied
    if len(rows) > 1:
        raise ValidationError(f"{table} has {len(rows)} rows; golang-migrate keeps one (its current version)")
    version, dirty = rows[0]
    if dirty:
        raise DirtyStateError(
            f"golang-migrate left version {version} dirty in {table}: it failed part-way and may be half-applied; "
            "nothing was adopted",
            hint=f"finish or undo it by hand, then `migrate force {version}` (it counts as applied) or force "
            "the version before it, and adopt again",
        )
    return _Theirs(upto=_version(version, "golang-migrate", table)) if int(version) >= 0 else _Theirs()


def _dbmate(query: Any, name: str, table: str) -> _Theirs:
    versions = [_version(v, "dbmate", table) for (v,) in query(f"SELECT version FROM {name}")]
    return _Theirs(versions={v.key: v for v in versions})


def _goose(query: Any, name: str, table: str) -> _Theirs:
    theirs, seen = _Theirs(), set()
    for version_id, is_applied in query(f"SELECT version_id, is_applied FROM {name} ORDER BY id DESC"):
        if version_id in seen:
            continue  # an older event of a version: the newest one decides
        seen.add(version_id)
        if is_applied and int(version_id) > 0:
            v = _version(version_id, "goose", table)
            theirs.versions[v.key] = v
    return theirs


def _flyway(query: Any, name: str, table: str) -> _Theirs:
    rows = query(f"SELECT installed_rank, version, type, script, checksum, success FROM {name} ORDER BY installed_rank")
    failed = [(v or script) for _, v, _, script, _, ok in rows if not ok]
    if failed:
        raise DirtyStateError(
            f"Flyway recorded {len(failed)} failed migration(s) in {table}: {', '.join(map(str, failed[:5]))}; "
            "nothing was adopted",
            hint="undo or finish what the failed script did, run `flyway repair` (it removes failed rows), "
            "and adopt again",
        )
    theirs = _Theirs()
    for _, version, kind, script, checksum, _ in rows:
        kind = str(kind).upper()
        if kind in ("SCHEMA", "TABLE"):
            continue  # Flyway's own markers (schemas it created)
        if version is None:  # a repeatable: its latest run counts
            script_name = PurePosixPath(str(script)).name
            theirs.repeatables[script_name] = checksum
            if kind == "DELETE":
                del theirs.repeatables[script_name]
            continue
        v = _version(version, "Flyway", table)
        if kind in ("BASELINE", "INIT"):
            theirs.baseline = v
        elif kind.startswith("UNDO") or kind == "DELETE":
            theirs.versions.pop(v.key, None)
        else:
            theirs.versions[v.key] = v
            theirs.checksums[v.key] = checksum
    return theirs


def _alembic(query: Any, name: str, table: str, source: Source, database: str) -> _Theirs:
    heads = [str(v) for (v,) in query(f"SELECT version_num FROM {name}")]
    if not heads:
        return _Theirs()  # Alembic at its base: nothing applied
    if len(heads) > 1:
        raise ValidationError(
            f"{table} holds {len(heads)} Alembic heads ({', '.join(sorted(heads))}); migrata's history is one line",
            hint="bring the database to one head with Alembic (`alembic upgrade heads` after merging) and adopt again",
        )
    found = [m for m in source.versioned if m.up.alembic_revision == heads[0] and m.version is not None]
    if not found:
        _below_baseline(heads[0], source, database)
        raise ValidationError(
            f"Alembic left {database} at revision {heads[0]}, which no migration in {source.directory} records",
            hint="import the Alembic project (again) with `migrata import alembic DIR`: every revision up to "
            "that one gets its migration",
        )
    return _Theirs(upto=found[0].version)


def _below_baseline(revision: str, source: Source, database: str) -> None:
    """Alembic left the database at a revision that ``migrata squash``
    archived: say how to catch up from the archive (as ``up`` says for a
    database migrata left below a baseline)."""
    for m in source.versioned:
        if m.up.baseline_of is None:
            continue
        folder = m.path.parent / (m.up.baseline_archive or "archive")
        if not folder.is_dir():
            continue
        archived = load_source(folder, allow_empty=source.allow_empty, ordering=source.ordering)
        hit = next((a for a in archived.versioned if a.up.alembic_revision == revision), None)
        if hit is not None:
            raise ValidationError(
                f"Alembic left {database} at revision {revision} (migration {hit.id}, archived), below "
                f"{m.label}, the baseline that squashed {'..'.join(m.up.baseline_of)}",
                hint=f"bring it to {m.id} with the archived migrations first: "
                f"`migrata up {m.id} --migrations {folder}`, then `migrata up`",
            )


def take_over_alembic(sess: Session, *, dry_run: bool, sql: bool = False) -> list[AppliedMigration]:
    """Before ``up``: when the migrations came from ``migrata import alembic``,
    migrata's history holds none of them and the database has Alembic's
    ``alembic_version``, record what Alembic applied, once, as ``adopt
    --from alembic`` does. Returns the rows a dry run would have recorded
    (to plan with); ``sql`` (a script for later) refuses to guess."""
    imported = {m.id for m in sess.source.versioned if m.up.alembic_revision}
    if not imported or not sess.database_exists():
        return []  # not an imported project (no query), or nothing to take over
    if any(r.version in imported for r in sess.rows()):
        return []  # taken over before, or migrata applied them itself
    if not sess.backend.tables_present([TABLES["alembic"]]):
        return []
    result = adopt_history(sess, "alembic", None, dry_run=dry_run or sql)
    if sql and result.added:
        raise UsageError(
            f"{sess.database} was migrated by Alembic: its {len(result.added)} applied version(s) are not in "
            "migrata's history yet, so the script would run them again",
            hint="record them first with `migrata adopt --from alembic`, then render the script",
        )
    pending = [sess.source.get(v) for v in result.added] if dry_run else []
    return [AppliedMigration(m.id, m.name, m.kind, m.checksum, APPLIED, "") for m in pending if m is not None]
