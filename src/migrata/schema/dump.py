"""A database's schema (and the rows of chosen tables) as a SQL script that
migrata can run as a migration: what ``migrata squash`` writes as a baseline.

Each dialect is dumped by its own tool, which knows every object kind:

* PostgreSQL: ``pg_dump --schema-only`` (and ``--data-only --column-inserts``
  for seed rows); its session settings are dropped (``search_path`` set to
  ``''`` would last for the migrations after the baseline), except
  ``check_function_bodies = false``, kept for the baseline's transaction only
  (functions come before the tables their bodies name);
* MySQL/MariaDB: ``mariadb-dump --no-data`` (routines, triggers and events
  included; foreign key checks off while it runs, as the dump sets them),
  without ``DEFINER=`` clauses: the objects belong to whoever runs it;
* SQLite: the ``sql`` of ``sqlite_master``, tables first, then views,
  indexes and triggers, each kind in the order of creation; seed rows are
  written by SQLite's own ``quote()``.

Migrata's own tables (``exclude``) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from migrata.backends.base import Backend
from migrata.errors import UsageError

__all__ = ["schema_script"]

_PG_SESSION = re.compile(r"^(SET \w+ = .*;|SELECT pg_catalog\.set_config\(.*\);)$")
_PG_KEEP = "SET check_function_bodies = false;"


def schema_script(backend: Backend, exclude: Collection[str], seed_tables: Sequence[str]) -> str:
    """The schema of ``backend``'s database without the ``exclude`` tables,
    followed by INSERTs of every row of ``seed_tables``."""
    missing = [t for t in seed_tables if not backend.tables_present([t])]
    if missing:
        raise UsageError(
            f"seed table(s) {', '.join(missing)} do not exist at that version",
            hint="name tables the migrations up to --to create",
        )
    if backend.dialect == "postgresql":
        return _postgresql(backend, exclude, seed_tables)
    if backend.dialect == "mysql":
        return _mysql(backend, exclude, seed_tables)
    if backend.dialect == "sqlite":
        return _sqlite(backend, exclude, seed_tables)
    raise UsageError(f"squash does not support {backend.dialect} databases")


# --- PostgreSQL ----------------------------------------------------------------------------
_PG_OWNED_SEQUENCES = (
    "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
    "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') "
    "AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)"
)


def _postgresql(backend: Backend, exclude: Collection[str], seed_tables: Sequence[str]) -> str:
    # the sequences of migrata's tables (serial ids) go with them
    names = set(exclude) | {r[0] for r in backend.query(_PG_OWNED_SEQUENCES, (sorted(exclude),))}
    args = ["--schema-only", "--no-owner", "--no-privileges"]
    args += [f"--exclude-table={backend.quote_ident(t)}" for t in sorted(names)]
    out = _pg_clean(backend.run_dump(args))
    if seed_tables:
        data = backend.run_dump(["--data-only", "--column-inserts"], seed_tables)
        out += "\n-- seed data\n" + _pg_clean(data)
    return out


def _pg_clean(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("\\"):  # psql meta-commands (\restrict ...): not SQL
            continue
        if _PG_SESSION.match(line):
            if line == _PG_KEEP:
                lines.append("SET LOCAL check_function_bodies = false;")
            continue
        lines.append(line)
    return _squeeze("\n".join(lines))


# --- MySQL/MariaDB -------------------------------------------------------------------------
def _mysql(backend: Backend, exclude: Collection[str], seed_tables: Sequence[str]) -> str:
    db = backend.url.database or ""
    common = ["--skip-comments", "--skip-dump-date", "--default-character-set=utf8mb4"]
    args = [*common, "--no-data", "--skip-add-drop-table", "--routines", "--triggers", "--events"]
    args += [f"--ignore-table={db}.{t}" for t in sorted(exclude)]
    out = _mysql_clean(backend.run_dump(args))
    if seed_tables:
        data = [*common, "--no-create-info", "--skip-triggers", "--complete-insert", "--skip-extended-insert"]
        data += ["--skip-add-locks", "--skip-disable-keys", "--hex-blob"]
        out += "\n-- seed data\n" + _mysql_clean(backend.run_dump(data, seed_tables))
    return out


_DEFINER = re.compile(r"DEFINER=`[^`]*`@`[^`]*`\s*")


def _mysql_clean(text: str) -> str:
    # the sandbox-mode line of recent mariadb-dump is for its own client only;
    # views, triggers and routines belong to whoever runs the baseline, not
    # to the user that made the scratch database
    lines = [_DEFINER.sub("", ln) for ln in text.splitlines() if not ln.startswith("/*M!999999")]
    return _squeeze("\n".join(lines))


# --- SQLite --------------------------------------------------------------------------------
_SQLITE_ORDER = "CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 WHEN 'index' THEN 2 ELSE 3 END, rowid"


def _sqlite(backend: Backend, exclude: Collection[str], seed_tables: Sequence[str]) -> str:
    rows = backend.query(
        f"SELECT tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        f"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY {_SQLITE_ORDER}"
    )
    parts = [sql.strip().rstrip(";") + ";" for table, sql in rows if table not in exclude]
    for table in seed_tables:
        parts.extend(_sqlite_rows(backend, table))
    return "\n\n".join(parts) + "\n"


def _sqlite_rows(backend: Backend, table: str) -> list[str]:
    q = backend.quote_ident
    columns = [r[1] for r in backend.query(f"PRAGMA table_info({q(table)})")]
    values = " || ', ' || ".join(f"quote({q(c)})" for c in columns)
    names = ", ".join(q(c) for c in columns)
    head = f"INSERT INTO {q(table)} ({names}) VALUES ("
    return [f"{head}{v});" for (v,) in backend.query(f"SELECT {values} FROM {q(table)} ORDER BY rowid")]


def _squeeze(text: str) -> str:
    """At most one blank line in a row; one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
