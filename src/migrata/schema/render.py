"""Turning a comparison into an up/down pair of SQL in the target dialect.

alembic's ``produce_migrations`` gives the operations (and their reverse);
they are rendered with alembic's offline mode (``as_sql``: ``Operations``
writes the DDL to a buffer instead of running it). Around it, what alembic
leaves to its users:

* a column dropped and one added with the same type in the same table is
  written as a rename, marked ``-- migrata:review``;
* a drop that loses data (a table, a column) puts
  ``-- migrata:review-required`` at the top of the up file: ``up`` refuses
  the file until a reviewer removes that line;
* PostgreSQL enum types: created before use, dropped when no longer used,
  and recreated when their values change (alembic does none of these);
* SQLite cannot alter a column or a constraint: those changes go through
  alembic's batch mode (copy the table), from the table as it was.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.operations import ops as alembic_ops

__all__ = ["Pair", "render_pair"]

REVIEW = "-- migrata:review"
REVIEW_REQUIRED = "-- migrata:review-required"


@dataclass
class Pair:
    """The rendered migration: up and down SQL, and what a reviewer must see."""

    up: str
    down: str
    notes: list[str] = field(default_factory=list)  # likely renames
    losses: list[str] = field(default_factory=list)  # drops that lose data

    @property
    def empty(self) -> bool:
        return not self.up.strip()


@dataclass
class _Side:
    """One end of the change: its tables and PostgreSQL enum types."""

    tables: dict[str, sa.Table]
    enums: dict[str, list[str]]


def render_pair(
    upgrade: alembic_ops.UpgradeOps,
    downgrade: alembic_ops.DowngradeOps,
    dialect: str,
    before: _SideLike,
    after: _SideLike,
) -> Pair:
    """Render ``upgrade`` and ``downgrade`` (from alembic's ``produce_migrations``:
    reversed before any rename here, as alembic cannot reverse a rename).
    ``before``/``after``: (tables by name, enum types by name) of each end."""
    b, a = _Side(*before), _Side(*after)
    notes = _renames(upgrade)
    _renames(downgrade)  # (drop b, add a) there: the rename back
    losses = _losses(upgrade)
    up = _render(upgrade, dialect, b, a)
    down = _render(downgrade, dialect, a, b)
    if up.strip():
        header = [f"{REVIEW_REQUIRED} {'; '.join(losses)}"] if losses else []
        header += [f"{REVIEW} {n}" for n in notes]
        up = "\n".join(header + [up]) if header else up
    return Pair(up, down, notes, losses)


_SideLike = tuple[dict[str, Any], dict[str, list[str]]]


# --- what a reviewer must see --------------------------------------------------------


def _renames(upgrade: Any) -> list[str]:
    """Replace (drop a, add b) of the same type in one table by a rename of a
    to b; return a note per rename."""
    from alembic.operations import ops

    notes = []
    for group in upgrade.ops:
        if not isinstance(group, ops.ModifyTableOps):
            continue
        drops = [o for o in group.ops if isinstance(o, ops.DropColumnOp)]
        adds = [o for o in group.ops if isinstance(o, ops.AddColumnOp)]
        for drop in drops:
            old = drop.to_column()
            match = next((a for a in adds if _same_type(old.type, a.column.type)), None)
            if match is None:
                continue
            adds.remove(match)
            new = match.column
            rename = ops.AlterColumnOp(
                group.table_name,
                old.name,
                schema=group.schema,
                modify_name=new.name,
                existing_type=old.type,
                existing_nullable=old.nullable,
                existing_server_default=old.server_default,
            )
            at = group.ops.index(drop)
            group.ops[at] = rename
            group.ops.remove(match)
            notes.append(f"likely rename: {group.table_name}.{old.name} -> {new.name} (written as a rename: check it)")
    return notes


def _same_type(a: Any, b: Any) -> bool:
    try:
        return str(a.compile()) == str(b.compile())
    except Exception:  # noqa: BLE001 - types the default dialect cannot name are not matched
        return False


def _losses(upgrade: alembic_ops.UpgradeOps) -> list[str]:
    from alembic.operations import ops

    out = []
    for op in upgrade.ops:
        if isinstance(op, ops.DropTableOp):
            out.append(f"drops table {op.table_name} and its rows")
        elif isinstance(op, ops.ModifyTableOps):
            out += [
                f"drops column {op.table_name}.{o.column_name} and its data"
                for o in op.ops
                if isinstance(o, ops.DropColumnOp)
            ]
    return out


# --- rendering ---------------------------------------------------------------------------


def _render(container: Any, dialect: str, before: _Side, after: _Side) -> str:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations, ops

    buf = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name=dialect, opts={"as_sql": True, "output_buffer": buf, "literal_binds": True}
    )
    operations = Operations(ctx)
    pg = dialect == "postgresql"
    enum_changes = _pg_enum_changes(container) if pg else {}
    if pg:
        _create_enums(buf, container, before, after)
        _recreate_enums(buf, enum_changes, after)
    created: set[str] = set()
    dropped = {_key(op) for op in container.ops if isinstance(op, ops.DropTableOp)}
    for op in container.ops:
        if isinstance(op, ops.ModifyTableOps):
            _render_table(operations, op, dialect, before, created, dropped)
        elif isinstance(op, ops.CreateTableOp) and (table := _table(after, op)) is not None:
            operations.impl.create_table(table)  # its indexes with it
            created.add(_key(op))
        elif isinstance(op, ops.DropTableOp) and (table := _table(before, op)) is not None:
            operations.impl.drop_table(table)
        else:
            operations.invoke(op)
    if pg:
        for name in sorted(set(before.enums) - set(after.enums)):
            buf.write(f"DROP TYPE {_q(name)};\n\n")
    return buf.getvalue()


def _table(side: _Side, op: Any) -> sa.Table | None:
    """The table a create or drop operation names, as ``side`` has it.

    alembic's own ``invoke`` would render from a copy of the table (made
    anew from the operation's columns): the same DDL, at most of a first
    autogenerate's time."""
    return side.tables.get(_key(op))


def _key(op: Any) -> str:
    return f"{op.schema}.{op.table_name}" if op.schema else str(op.table_name)


def _render_table(
    operations: Any, group: Any, dialect: str, before: _Side, created: set[str], dropped: set[str]
) -> None:
    from alembic.operations import ops

    batched = (ops.AlterColumnOp, ops.AddConstraintOp, ops.DropConstraintOp, ops.CreateForeignKeyOp)
    todo = [o for o in group.ops if not _handled_enum(o, dialect)]
    if _key(group) in created:  # CREATE TABLE wrote the table's indexes
        todo = [o for o in todo if not isinstance(o, ops.CreateIndexOp)]
    if _key(group) in dropped:  # DROP TABLE drops them
        todo = [o for o in todo if not isinstance(o, ops.DropIndexOp)]
    if dialect == "sqlite" and any(isinstance(o, batched) and not _rename_only(o) for o in todo):
        table = before.tables.get(group.table_name)
        with operations.batch_alter_table(group.table_name, copy_from=table, recreate="always") as batch:
            for op in todo:
                batch.invoke(op)
        return
    for op in todo:
        operations.invoke(op)


def _rename_only(op: Any) -> bool:
    from alembic.operations import ops

    if not isinstance(op, ops.AlterColumnOp):
        return False
    return op.modify_name is not None and not any(
        (op.modify_type, op.modify_nullable is not None, op.modify_server_default is not False, op.modify_comment)
    )


# --- PostgreSQL enum types --------------------------------------------------------------


def _handled_enum(op: Any, dialect: str) -> bool:
    return dialect == "postgresql" and _enum_change(op) is not None


def _enum_change(op: Any) -> str | None:
    """The enum type whose values ``op`` changes (a column staying of that type)."""
    import sqlalchemy as sa
    from alembic.operations import ops

    if not isinstance(op, ops.AlterColumnOp) or op.modify_type is None:
        return None
    new, old = op.modify_type, op.existing_type
    if isinstance(new, sa.Enum) and isinstance(old, sa.Enum) and new.name and new.name == old.name:
        return str(new.name)
    return None


def _pg_enum_changes(container: Any) -> dict[str, list[Any]]:
    from alembic.operations import ops

    found: dict[str, list[Any]] = {}
    for group in container.ops:
        if isinstance(group, ops.ModifyTableOps):
            for op in group.ops:
                name = _enum_change(op)
                if name is not None:
                    found.setdefault(name, []).append(op)
    return found


def _create_enums(buf: io.StringIO, container: Any, before: _Side, after: _Side) -> None:
    """CREATE TYPE for new enum types that no CREATE TABLE here creates (alembic
    creates those of a new table itself)."""
    from alembic.operations import ops

    by_tables = set()
    for op in container.ops:
        if isinstance(op, ops.CreateTableOp):
            by_tables |= {c.type.name for c in op.columns if hasattr(c, "type") and getattr(c.type, "name", None)}
    for name in sorted(set(after.enums) - set(before.enums) - by_tables):
        buf.write(f"CREATE TYPE {_q(name)} AS ENUM ({_labels(after.enums[name])});\n\n")


def _recreate_enums(buf: io.StringIO, changes: dict[str, list[Any]], after: _Side) -> None:
    """An enum type with other values: a new type, the columns moved to it
    (their defaults set again), the old one dropped."""
    for name, alters in sorted(changes.items()):
        q, old = _q(name), _q(name + "_old")
        buf.write(f"ALTER TYPE {q} RENAME TO {old};\n\n")
        buf.write(f"CREATE TYPE {q} AS ENUM ({_labels(list(alters[0].modify_type.enums))});\n\n")
        for op in alters:
            col, table = _q(op.column_name), _q(op.table_name)
            default = op.existing_server_default
            if default is not None:
                buf.write(f"ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT;\n\n")
            buf.write(f"ALTER TABLE {table} ALTER COLUMN {col} TYPE {q} USING {col}::text::{q};\n\n")
            if default is not None:
                text = _default_text(default)
                buf.write(f"ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {text};\n\n")
        buf.write(f"DROP TYPE {old};\n\n")


def _default_text(default: Any) -> str:
    import sqlalchemy as sa

    arg = getattr(default, "arg", default)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    if isinstance(arg, sa.sql.ClauseElement):
        return str(arg.compile(compile_kwargs={"literal_binds": True})).split("::", 1)[0]
    return str(arg)


def _labels(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
