"""Looking up one schema object by the name a statement gives it
(:meth:`~migrata.backends.base.Backend.has_object`): names as written in SQL,
quoted or not, schema-qualified or not. Private to ``migrata.backends``: the
name parsing every backend shares, and the catalog queries of the server
dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from migrata.errors import DatabaseError

__all__ = [
    "mysql_dependents",
    "mysql_load_trigger",
    "mysql_lookup",
    "mysql_snapshot",
    "name_parts",
    "postgres_lookup",
    "sqlite_dependents",
    "sqlite_lookup",
]

_CLOSING = {'"': '"', "`": "`", "[": "]"}


def name_parts(text: str) -> list[tuple[str, bool]]:
    """``schema.name`` as written, cut into its parts, each with whether it
    was quoted (``"a""b"``, ```a```, ``[a]``: quotes doubled inside)."""
    parts: list[tuple[str, bool]] = []
    pos, n = 0, len(text.strip())
    text = text.strip()
    while pos < n:
        ch = text[pos]
        if ch in _CLOSING:
            close, pos, buf = _CLOSING[ch], pos + 1, []
            while pos < n:
                if text[pos] == close and text.startswith(close * 2, pos) and close != "]":
                    buf.append(close)
                    pos += 2
                elif text[pos] == close:
                    pos += 1
                    break
                else:
                    buf.append(text[pos])
                    pos += 1
            parts.append(("".join(buf), True))
        else:
            end = text.find(".", pos)
            end = n if end < 0 else end
            parts.append((text[pos:end].strip(), False))
            pos = end
        if pos < n and text[pos] == ".":
            pos += 1
    return parts


# MySQL/MariaDB: kind -> (catalog table, schema column, name column, table column, condition);
# the schema is the statement's or DATABASE(); information_schema compares names
# as the server compares identifiers
_MYSQL: dict[str, tuple[str, str, str, str | None, str]] = {
    "table": ("tables", "table_schema", "table_name", None, "table_type NOT IN ('VIEW', 'SEQUENCE')"),
    "view": ("views", "table_schema", "table_name", None, "1 = 1"),
    "sequence": ("tables", "table_schema", "table_name", None, "table_type = 'SEQUENCE'"),
    "index": ("statistics", "table_schema", "index_name", "table_name", "1 = 1"),
    "column": ("columns", "table_schema", "column_name", "table_name", "1 = 1"),
    "constraint": ("table_constraints", "constraint_schema", "constraint_name", "table_name", "1 = 1"),
    "routine": ("routines", "routine_schema", "routine_name", None, "1 = 1"),
    "trigger": ("triggers", "trigger_schema", "trigger_name", "event_object_table", "1 = 1"),
}

# PostgreSQL: kind -> (query, its parameters: n = the name, t = the table);
# the server parses names as written (to_regclass, parse_ident: unquoted
# names fold to lower case, a schema-less name follows the search_path)
_REL = "SELECT 1 FROM pg_class WHERE oid = to_regclass(%s) AND relkind IN ({})"
_LAST = "(SELECT i[cardinality(i)] FROM parse_ident(%s) AS i)"
_OWNED = "SELECT 1 FROM {catalog} WHERE {name} = " + _LAST + " AND (%s::text IS NULL OR {owner} = to_regclass(%s))"
_POSTGRES: dict[str, tuple[str, str]] = {
    "table": (_REL.format("'r', 'p'"), "n"),
    "view": (_REL.format("'v', 'm'"), "n"),
    "sequence": (_REL.format("'S'"), "n"),
    "index": (_REL.format("'i', 'I'"), "n"),
    "column": (
        f"SELECT 1 FROM pg_attribute WHERE attname = {_LAST} AND attrelid = to_regclass(%s) "
        "AND attnum > 0 AND NOT attisdropped",
        "nt",
    ),
    "constraint": (_OWNED.format(catalog="pg_constraint", name="conname", owner="conrelid"), "ntt"),
    "trigger": (_OWNED.format(catalog="pg_trigger", name="tgname", owner="tgrelid"), "ntt"),
    "routine": (
        "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, parse_ident(%s) AS i "
        "WHERE p.proname = i[cardinality(i)] AND CASE WHEN cardinality(i) > 1 THEN n.nspname = i[1] "
        "ELSE pg_function_is_visible(p.oid) END",
        "n",
    ),
}


def _known(kind: str, table: dict[str, Any]) -> None:
    if kind not in table:
        raise ValueError(f"no such kind of schema object: {kind!r}")


def mysql_lookup(kind: str, name: str, table: str | None) -> tuple[str, list[Any]]:
    """The query (and its parameters) that finds the object on MySQL/MariaDB."""
    _known(kind, _MYSQL)
    catalog, schema_col, name_col, table_col, cond = _MYSQL[kind]
    *schema, obj = [p for p, _ in name_parts(name)] or [""]
    params: list[Any] = [obj]
    if table is not None and table_col is not None:
        *schema, owner = [p for p, _ in name_parts(table)] or [""]
        cond += f" AND {table_col} = %s"
        params.append(owner)
    sql = (
        f"SELECT 1 FROM information_schema.{catalog} WHERE {schema_col} = COALESCE(%s, DATABASE()) "
        f"AND {name_col} = %s AND {cond} LIMIT 1"
    )
    return sql, [schema[-1] if schema else None, *params]


#: MySQL/MariaDB's ER_TRG_CORRUPTED_FILE (a table's triggers that do not load)
#: and ER_SPECIFIC_ACCESS_DENIED_ERROR (a privilege missing, here RELOAD)
_TRIGGERS_UNLOADABLE, _DENIED = 1602, 1227


def mysql_load_trigger(backend: Any, name: str) -> None:
    """Have the server read the trigger ``name``, which exists, from disk again.

    MariaDB: a session killed while it reads a table's triggers (opening the
    table, as the statement after a ``CREATE TRIGGER`` does) can leave them
    unloadable in the server's table cache, though they are intact on disk:
    an INSERT that fires one then fails ("... has an error in its body"),
    from every connection, until the table is opened anew. No read shows it
    every time (``SHOW CREATE TRIGGER`` often fails with error 1602; a
    statement that fires no trigger succeeds), so the table is closed
    (``FLUSH TABLES``). Without the RELOAD privilege that takes, a trigger
    the server reports corrupt is an error saying what to run."""
    *schema, obj = [p for p, _ in name_parts(name)] or [""]
    ((owner_schema, table),) = backend.query(
        "SELECT event_object_schema, event_object_table FROM information_schema.triggers "
        "WHERE trigger_schema = COALESCE(%s, DATABASE()) AND trigger_name = %s",
        [schema[-1] if schema else None, obj],
    )
    where = f"{backend.quote_ident(owner_schema)}.{backend.quote_ident(table)}"
    try:
        backend.execute(f"FLUSH TABLES {where}")
        return
    except DatabaseError as exc:
        if _code(exc) != _DENIED:
            raise
    try:
        backend.query("SHOW CREATE TRIGGER " + ".".join(backend.quote_ident(p) for p in [*schema, obj]))
    except DatabaseError as exc:
        if _code(exc) != _TRIGGERS_UNLOADABLE:
            raise
        raise DatabaseError(
            f"trigger {name} exists but the server cannot load the triggers of {where} (a session killed "
            "while it read them leaves them so)",
            hint=f"run `FLUSH TABLES {where}` as a user with the RELOAD privilege, then run the command again",
        ) from None


def _code(exc: DatabaseError) -> int | None:
    """The server's error number behind ``exc`` (raised from the driver's error)."""
    args = getattr(exc.__cause__, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def postgres_lookup(kind: str, name: str, table: str | None) -> tuple[str, list[Any]]:
    """The query (and its parameters) that finds the object on PostgreSQL."""
    _known(kind, _POSTGRES)
    sql, spec = _POSTGRES[kind]
    return sql + " LIMIT 1", [name if c == "n" else table for c in spec]


_SQLITE_TYPES = {"table": "table", "view": "view", "index": "index", "trigger": "trigger"}


def sqlite_lookup(kind: str, name: str, table: str | None) -> tuple[str, list[Any]] | bool | None:
    """The query that finds the object on SQLite; False for the kinds SQLite
    does not have, None for constraints (their names are not kept apart)."""
    if kind not in _SQLITE_TYPES and kind not in ("column", "constraint", "routine", "sequence"):
        raise ValueError(f"no such kind of schema object: {kind!r}")
    if kind in ("routine", "sequence"):
        return False
    if kind == "constraint":
        return None
    *schema, (obj, _) = name_parts(name) or [("", False)]
    where = schema[-1][0] if schema else "main"
    master = f'"{where.replace(chr(34), chr(34) * 2)}".sqlite_master'
    if kind == "column":
        *tschema, (owner, _) = name_parts(table or "") or [("", False)]
        where = tschema[-1][0] if tschema else "main"
        return "SELECT 1 FROM pragma_table_info(?, ?) WHERE name = ? COLLATE NOCASE", [owner, where, obj]
    sql = f"SELECT 1 FROM {master} WHERE type = ? AND name = ? COLLATE NOCASE"
    params: list[Any] = [_SQLITE_TYPES[kind], obj]
    if table is not None and kind in ("index", "trigger"):
        sql += " AND tbl_name = ? COLLATE NOCASE"
        params.append(name_parts(table)[-1][0])
    return sql, params


def mysql_snapshot(q: Callable[..., Any]) -> dict[str, Any]:
    """MySQL/MariaDB's :meth:`~migrata.backends.base.Backend.schema_snapshot`
    from ``information_schema``, asked through ``q`` (the backend's query)."""
    columns = {
        f"{t}.{c}": [typ, nullable, str(default) if default is not None else None]
        for t, c, typ, nullable, default in q(
            "SELECT table_name, column_name, column_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = DATABASE()"
        )
    }
    objects: dict[str, Any] = {}
    for table, index, non_unique, cols in q(
        "SELECT table_name, index_name, MIN(non_unique), GROUP_CONCAT(column_name ORDER BY seq_in_index) "
        "FROM information_schema.statistics WHERE table_schema = DATABASE() GROUP BY table_name, index_name"
    ):
        objects[f"index:{table}.{index}"] = {"table": table, "sql": f"{'UNIQUE ' if not non_unique else ''}{cols}"}
    for table, name, ref, rule_u, rule_d in q(
        "SELECT table_name, constraint_name, referenced_table_name, update_rule, delete_rule "
        "FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()"
    ):
        objects[f"fk:{table}.{name}"] = {"table": table, "sql": f"{ref} {rule_u} {rule_d}"}
    for name, definition in q(
        "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = DATABASE()"
    ):
        objects[f"view:{name}"] = {"table": name, "sql": " ".join(str(definition).split())}
    for name, table, timing, event, action in q(
        "SELECT trigger_name, event_object_table, action_timing, event_manipulation, action_statement "
        "FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
    ):
        objects[f"trigger:{name}"] = {"table": table, "sql": f"{timing} {event} {' '.join(str(action).split())}"}
    for name, kind, body in q(
        "SELECT routine_name, routine_type, routine_definition FROM information_schema.routines "
        "WHERE routine_schema = DATABASE()"
    ):
        objects[f"{str(kind).lower()}:{name}"] = {"table": None, "sql": " ".join(str(body).split())}
    return {"columns": columns, "objects": objects}


# --- what depends on a table (Backend.dependents) ---------------------------------------


def _mentions(sql: str, name: str) -> bool:
    """Whether ``sql`` names the table ``name`` (as a whole word, quoted or not)."""
    import re

    return re.search(r"(?<![\w$])[`\"\[]?" + re.escape(name) + r"[`\"\]]?(?![\w$])", sql, re.I) is not None


def sqlite_dependents(backend: Any, tables: Sequence[str]) -> list[tuple[str, str]]:
    """SQLite: the views that stop working without one of ``tables`` (those
    whose SQL names it, confirmed by dropping it in a savepoint rolled back
    at once) and the tables with a foreign key to one of them (as
    ``Backend.dependents``)."""
    found: list[tuple[str, str]] = []
    views = backend.query("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
    for table in tables:
        named = [v for v, sql in views if _mentions(sql or "", table)]
        found += [(v, f"view {v} depends on table {table}") for v in _sqlite_broken(backend, table, named)]
        rows = backend.query(
            "SELECT DISTINCT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f "
            "WHERE m.type = 'table' AND lower(f.\"table\") = ? AND lower(m.name) <> ?",
            (table, table),
        )
        found += [(r[0], f"table {r[0]} has a foreign key to table {table}") for r in rows]
    return found


def _sqlite_broken(backend: Any, table: str, views: list[str]) -> list[str]:
    """Which of ``views`` fail once ``table`` is gone (a name in a view's SQL
    may be an alias or a column): drop it in a savepoint, try each, roll back."""
    if not views:
        return []
    broken = []
    backend.execute("SAVEPOINT migrata_dependents")
    try:
        try:
            backend.execute(f"DROP TABLE {backend.quote_ident(table)}")
        except Exception:  # noqa: BLE001 - it cannot go (a foreign key): the names are all there is
            return views
        for view in views:
            try:
                backend.query(f"SELECT 1 FROM {backend.quote_ident(view)} LIMIT 0")
            except Exception:  # noqa: BLE001 - the view no longer works
                broken.append(view)
    finally:
        backend.execute("ROLLBACK TO migrata_dependents")
        backend.execute("RELEASE migrata_dependents")
    return broken


def mysql_dependents(backend: Any, tables: Sequence[str]) -> list[tuple[str, str]]:
    """MySQL/MariaDB: the views of the database whose definition names one
    of ``tables`` and the foreign keys to them."""
    found: list[tuple[str, str]] = []
    views = backend.query(
        "SELECT TABLE_NAME, VIEW_DEFINITION, TABLE_SCHEMA FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"
    )
    # every foreign key of the database in one query (information_schema is slow to ask per table)
    keys = backend.query(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, lower(REFERENCED_TABLE_NAME) "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
        "ORDER BY TABLE_NAME, CONSTRAINT_NAME"
    )
    for table in tables:
        # the server writes each table of a view `db`.`t` (an alias is `t` alone)
        found += [
            (v, f"view {v} depends on table {table}")
            for v, sql, db in views
            if f"`{db}`.`{table}`".lower() in (sql or "").lower()
        ]
        found += [
            (t, f"table {t} has a foreign key ({name}) to table {table}")
            for t, name, ref in keys
            if ref == table.lower() and t.lower() != ref
        ]
    return found
