"""A rollback that would drop a table other objects depend on.

PostgreSQL refuses such a ``DROP TABLE`` itself and lists the dependent
objects (the backend hands them over in ``StatementError.dependents``).
MySQL/MariaDB drops a table a view selects from (the view breaks later) and
reports a foreign key only as "a foreign key constraint fails"; SQLite
drops a table a view uses or an empty table a foreign key references. So,
before a rollback runs, the ``DROP TABLE`` statements of its down parts are
checked against what the backend says depends on those tables
(``Backend.dependents``), leaving out what the rollback drops itself; a
blocked rollback is refused before anything runs. Either way the error
names each dependent object and, where migrata can tell, the migration
file whose SQL creates it (a repeatable ``R__views.sql``, say).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrata._core.steps import Prepared, statement_failure
from migrata.backends._sqltext import bare_name, skip_space_and_comments
from migrata.backends.base import Backend, StatementError

__all__ = ["check_rollback", "dependents_hint", "owner_of"]

_DROP = re.compile(r"DROP\s+(?:MATERIALIZED\s+)?(TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?(.*)", re.I | re.S)
_MADE = re.compile(
    r"(?:\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?|\bRENAME\s+TO\s+)([`\"\[]?[\w.]+[`\"\]]?)", re.I
)
_TAIL = re.compile(r"\s*(?:CASCADE|RESTRICT)?\s*;?\s*$", re.I)


def _dropped(sql: str) -> tuple[str, list[str]] | None:
    """("TABLE"/"VIEW", the names) of a DROP statement; None for others."""
    m = _DROP.match(sql, skip_space_and_comments(sql))
    if m is None:
        return None
    names = _TAIL.sub("", m.group(2))
    return m.group(1).upper(), [bare_name(n) for n in names.split(",") if n.strip()]


def check_rollback(backend: Backend, prepared: Sequence[Prepared], source: Any) -> None:
    """Refuse the run before anything runs when a down step drops a table
    that an object neither it nor an earlier step drops depends on."""
    downs = [
        (item, statements, [(stmt, d) for stmt in statements if (d := _dropped(stmt.sql)) is not None])
        for item in prepared
        if item.step.direction == "down" and (statements := item.statements)
    ]
    named = {name for _, _, drops in downs for _, (_, names) in drops for name in names}
    if not named or not backend.dependents(sorted(named)):
        return  # one look for the whole rollback: nothing depends on any table it drops
    gone: set[str] = set()
    for item, statements, drops in downs:
        gone |= {name for _, (_, names) in drops for name in names}
        # a table rebuilt under its name (SQLite's CREATE new, copy, DROP, RENAME) keeps its dependents
        made = {bare_name(m.group(1)) for stmt in statements for m in _MADE.finditer(stmt.sql)}
        for stmt, (kind, dropped) in drops:
            names = [n for n in dropped if n not in made]
            if kind != "TABLE" or not names:
                continue
            blockers = [d for d in backend.dependents(names) if d[0].lower() not in gone]
            if blockers:
                tables = ", ".join(names)
                message = f"cannot drop table {tables} because other objects depend on it"
                failure = statement_failure(item, stmt, StatementError(message, dependents=blockers), source=source)
                failure.hint = f"nothing was rolled back; {failure.hint}"
                raise failure


def dependents_hint(dependents: Sequence[tuple[str, str]], source: Any) -> str:
    """The way out of a drop that ``dependents`` block: each named, with the
    file that creates it where the migrations tell."""
    parts = []
    for name, description in dependents:
        owner = owner_of(source, name) if source is not None and name else None
        parts.append(f"{description} (created by {owner})" if owner else description)
    return (
        "; ".join(parts) + ": drop or change those first (in this down part, or in the migration that "
        "creates them), or use DROP ... CASCADE where the database has it"
    )


def owner_of(source: Any, name: str) -> str | None:
    """The file name of the migration whose SQL creates ``name`` (a
    repeatable first, then the latest version); None when none does."""
    creates = re.compile(
        r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:[A-Z_]+\s+)*?(?:VIEW|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
        r"(?:[`\"]?\w+[`\"]?\.)?[`\"]?" + re.escape(name) + r"[`\"]?(?![\w$])",
        re.I,
    )
    for m in [*source.repeatables, *reversed(source.versioned)]:
        sql = m.up.sql if m.kind != "py" else None
        if sql and creates.search(sql):
            return Path(m.up.path).name
    return None
