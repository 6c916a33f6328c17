"""Comparing schemas with alembic's public comparison API.

One side is always a database reached through a migrata backend's own
connection (SQLAlchemy is given it through ``creator``: migrata's way of
connecting, passwords and options included, is the only one); the other is a
:class:`sqlalchemy.MetaData`: the user's models, or another database
reflected. alembic compares tables, columns, types (``compare_type``),
nullability, server defaults (``compare_server_default``), indexes,
unique and foreign-key constraints and comments; what it does not compare
is done here from the reflected inspector: check constraints, enum values
(PostgreSQL and SQLite; alembic sees MySQL ENUM changes itself) and
PostgreSQL enum types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from migrata.backends.base import Backend

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.migration import MigrationContext

__all__ = ["Comparison", "Difference", "compare", "engine_for", "migration_context", "reflect"]

#: migrata dialect -> SQLAlchemy URL naming the driver migrata uses
_SA_URLS = {"sqlite": "sqlite://", "postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://"}


@dataclass
class Difference:
    """One difference: ``kind`` of object (table, column, index, ...), the
    object's name, what differs, and each side's value where it has one."""

    kind: str
    object: str
    change: str
    left: str | None = None
    right: str | None = None

    def line(self, left: str, right: str) -> str:
        change = {"missing on the left": f"only in {right}", "missing on the right": f"only in {left}"}
        text = f"{self.kind} {self.object}: {change.get(self.change, self.change)}"
        if self.left is not None or self.right is not None:
            text += f" ({left}: {self.left or '-'}, {right}: {self.right or '-'})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "object": self.object, "change": self.change, "left": self.left, "right": self.right}


@dataclass
class Comparison:
    """``left`` (a database) against ``right`` (models or another database):
    the differences, and alembic's operations between the two."""

    left: str
    right: str
    differences: list[Difference] = field(default_factory=list)
    check_ops: list[Any] = field(default_factory=list)  # what alembic's ops lack
    upgrade: Any = None  # alembic's UpgradeOps: what makes the left like the right
    downgrade: Any = None  # alembic's DowngradeOps: the reverse of ``upgrade``

    def lines(self) -> list[str]:
        return [d.line(self.left, self.right) for d in self.differences]

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "differences": [d.to_dict() for d in self.differences],
            "lines": self.lines(),
        }


def engine_for(backend: Backend) -> sa.Engine:
    """A SQLAlchemy engine whose one connection is ``backend``'s own."""
    import sqlalchemy as sa
    from sqlalchemy.pool import StaticPool

    return sa.create_engine(_SA_URLS[backend.dialect], creator=lambda: backend.connection, poolclass=StaticPool)


def reflect(conn: sa.Connection, exclude: set[str]) -> sa.MetaData:
    """The database's tables (but ``exclude``) as a MetaData."""
    import sqlalchemy as sa

    md = sa.MetaData()
    md.reflect(bind=conn, only=lambda name, _md: name not in exclude)
    return md


def migration_context(conn: sa.Connection, metadata: sa.MetaData, exclude: set[str]) -> MigrationContext:
    from alembic.migration import MigrationContext

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return not (type_ == "table" and name in exclude)

    return MigrationContext.configure(
        conn,
        opts={
            "target_metadata": metadata,
            "compare_type": _compare_type,
            "compare_server_default": _compare_default,
            "include_name": include_name,
        },
    )


def compare(conn: sa.Connection, metadata: sa.MetaData, exclude: set[str], *, left: str, right: str) -> Comparison:
    """Compare the database on ``conn`` with ``metadata``."""
    from alembic.autogenerate import produce_migrations

    ctx = migration_context(conn, metadata, exclude)
    script = produce_migrations(ctx, metadata)  # one comparison: the ops and their reverse
    assert script.upgrade_ops is not None
    result = Comparison(left, right, upgrade=script.upgrade_ops, downgrade=script.downgrade_ops)
    result.differences = list(_describe_ops(script.upgrade_ops))
    result.differences += _check_constraints(conn, metadata, exclude, result.check_ops)
    result.differences += _enum_types(conn, metadata)
    return result


# --- what alembic does not compare ----------------------------------------------------


def _compare_type(
    ctx: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> Any:
    """Enum values (alembic compares them only on MySQL); else alembic decides."""
    import sqlalchemy as sa

    if isinstance(metadata_type, sa.Enum) and isinstance(inspected_type, sa.Enum):
        return list(metadata_type.enums) != list(inspected_type.enums)
    return None


_CAST_RE = re.compile(r"::[\w\s\".\[\]]+")


def _norm_default(text: str | None) -> str | None:
    if text is None:
        return None
    t = _CAST_RE.sub("", text).strip().lower()
    while len(t) >= 2 and t[0] == "(" and t[-1] == ")":
        t = t[1:-1].strip()
    t = t.strip("'\"")
    if t.endswith("()"):  # MariaDB writes current_timestamp()
        t = t[:-2]
    return {"true": "1", "false": "0", "now": "current_timestamp"}.get(t, t)


def _compare_default(
    ctx: Any, inspected_column: Any, metadata_column: Any, rendered_inspected: Any, metadata_default: Any, rendered: Any
) -> bool:
    """Server defaults compared as the database writes them (quotes, casts,
    parentheses and true/false spellings aside)."""
    if rendered_inspected is not None and _autoincrement_default(rendered_inspected):
        rendered_inspected = None  # a serial column's sequence: not a default to compare
    if rendered is not None and _autoincrement_default(str(rendered).strip("'\"")):
        rendered, metadata_default = None, None
    if metadata_default is None:
        return rendered_inspected is not None
    if rendered_inspected is None:
        return True
    return not _same_default(_norm_default(rendered_inspected), _norm_default(rendered))


def _same_default(a: str | None, b: str | None) -> bool:
    """Equal, or the same number written two ways (MySQL keeps a DECIMAL's scale: 0.00 for 0)."""
    if a == b:
        return True
    try:
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


def _autoincrement_default(text: str) -> bool:
    return text.startswith("nextval(")


def _norm_check(text: str) -> str:
    t = re.sub(r"[`\"\s()]", "", text.lower())
    return _CAST_RE.sub("", t)


def _check_constraints(
    conn: sa.Connection, metadata: sa.MetaData, exclude: set[str], ops_out: list[Any]
) -> list[Difference]:
    """Check constraints by name (or, unnamed, by their normalised text);
    ``ops_out`` gets the alembic operation that makes the left like the right."""
    import sqlalchemy as sa
    from alembic.operations import ops

    insp = sa.inspect(conn)
    present = set(insp.get_table_names()) - exclude
    wanted = [t for t in metadata.tables.values() if t.name in present]
    # one query for every table (SQLAlchemy's multi-table reflection), not one per table
    found = insp.get_multi_check_constraints(filter_names=[t.name for t in wanted]) if wanted else {}
    by_table = {table: checks for (_schema, table), checks in found.items()}
    out = []
    for table in wanted:
        have = {
            _check_key(c.get("name"), c["sqltext"]): (c.get("name"), c["sqltext"])
            for c in by_table.get(table.name, [])
            if not _json_check(c["sqltext"])
        }
        want = {
            _check_key(c.name if isinstance(c.name, str) else None, str(c.sqltext)): c
            for c in table.constraints
            if isinstance(c, sa.CheckConstraint) and not _implicit_check(c)
        }
        for key in sorted(set(want) - set(have)):
            out.append(Difference("check", f"{table.name}.{key}", "missing on the left", None, str(want[key].sqltext)))
            ops_out.append(ops.AddConstraintOp.from_constraint(want[key]))
        for key in sorted(set(have) - set(want)):
            name, text = have[key]
            out.append(Difference("check", f"{table.name}.{key}", "missing on the right", text, None))
            back = ops.CreateCheckConstraintOp(name, table.name, sa.text(text))
            ops_out.append(ops.DropConstraintOp(name, table.name, type_="check", _reverse=back))
    return out


def _check_key(name: str | None, sqltext: str) -> str:
    if name is None or re.fullmatch(r"(CONSTRAINT_\d+|\w+_check\d*|sqlite_autoindex_\w+)", name):
        return f"({_norm_check(sqltext)})"
    return name


def _implicit_check(constraint: Any) -> bool:
    """Check constraints SQLAlchemy adds for a non-native Enum or Boolean."""
    return bool(getattr(constraint, "_type_bound", False))


def _json_check(sqltext: str) -> bool:
    return "json_valid" in sqltext.lower()  # MariaDB's own check of a JSON column


def _enum_types(conn: sa.Connection, metadata: sa.MetaData) -> list[Difference]:
    """PostgreSQL enum types by name and values."""
    if conn.dialect.name != "postgresql":
        return []
    import sqlalchemy as sa

    have = {e["name"]: list(e["labels"]) for e in sa.inspect(conn).get_enums()}  # type: ignore[attr-defined]
    want = model_enums(metadata)
    out = []
    for name in sorted(set(want) - set(have)):
        out.append(Difference("enum", name, "missing on the left", None, ", ".join(want[name])))
    for name in sorted(set(have) - set(want)):
        out.append(Difference("enum", name, "missing on the right", ", ".join(have[name]), None))
    return out


def model_enums(metadata: sa.MetaData) -> dict[str, list[str]]:
    """Native enum types the tables of ``metadata`` use, by name."""
    import sqlalchemy as sa

    found: dict[str, list[str]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            t = column.type
            if isinstance(t, sa.Enum) and t.native_enum and t.name:
                found[t.name] = list(t.enums)
    return found


# --- alembic's operations as lines ------------------------------------------------------


def _describe_ops(container: Any) -> Iterator[Difference]:
    """The differences ``container``'s operations make up. A table added or
    dropped, or an index added, is named from its operation: alembic's own
    ``as_diffs`` would copy each such table first (most of a first
    autogenerate's time)."""
    from alembic.operations import ops

    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            yield from _describe_ops(op)
        elif isinstance(op, (ops.CreateTableOp, ops.DropTableOp)):
            side = "missing on the left" if isinstance(op, ops.CreateTableOp) else "missing on the right"
            yield Difference("table", op.table_name, side)
        elif isinstance(op, ops.CreateIndexOp):  # from its fields: to_diff_tuple() builds a table for it
            yield Difference("index", f"{op.table_name}.{op.index_name}", "missing on the left", None, _columns(op))
        else:
            yield from _describe(op.to_diff_tuple())


def _describe(raw: Any) -> Iterator[Difference]:
    if isinstance(raw, list):  # modify_* of one column
        for item in raw:
            yield _describe_modify(item)
        return
    if not isinstance(raw, tuple):
        yield Difference("object", str(raw), "differs")
        return
    op = raw[0]
    side = "missing on the left" if op.startswith("add_") else "missing on the right"
    if op in ("add_column", "remove_column"):
        yield Difference("column", f"{raw[2]}.{raw[3].name}", side, *_sides(op, _type(raw[3].type)))
    elif op in ("add_index", "remove_index"):
        ix = raw[1]
        yield Difference("index", f"{ix.table.name}.{ix.name}", side, *_sides(op, _columns(ix)))
    elif op in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        c = raw[1]
        kind = "foreign key" if op.endswith("_fk") else "unique"
        yield Difference(kind, f"{c.table.name}.{c.name or _columns(c)}", side, *_sides(op, _columns(c)))
    elif op in ("add_table_comment", "remove_table_comment"):
        yield Difference("comment", f"table {raw[1].name}", "differs", raw[2] if len(raw) > 2 else None, raw[1].comment)
    else:
        yield Difference("object", str(raw[1:]), op)


def _describe_modify(item: Any) -> Difference:
    op, _schema, table, column, _existing, old, new = item
    what = {"modify_type": "type", "modify_nullable": "nullable", "modify_default": "default"}.get(op, "comment")
    return Difference("column", f"{table}.{column}", f"{what} differs", _value(old), _value(new))


def _sides(op: str, text: str) -> tuple[str | None, str | None]:
    return (None, text) if op.startswith("add_") else (text, None)


def _columns(obj: Any) -> str:
    """An index's or constraint's columns; an index operation may hold
    names or expressions rather than columns."""
    return "(" + ", ".join(getattr(c, "name", None) or str(c) for c in obj.columns) + ")"


def _type(t: Any) -> str:
    try:
        return str(t.compile())
    except Exception:  # noqa: BLE001 - a type the default dialect cannot name
        return repr(t)


def _value(v: Any) -> str | None:
    import sqlalchemy as sa

    if v is None:
        return None
    if isinstance(v, bool):
        return "NULL" if v else "NOT NULL"
    if isinstance(v, sa.types.TypeEngine):
        return _type(v)
    arg = getattr(v, "arg", v)
    if isinstance(arg, sa.sql.ClauseElement):
        return str(arg.compile(compile_kwargs={"literal_binds": True}))
    return str(arg)
