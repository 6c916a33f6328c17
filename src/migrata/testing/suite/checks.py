"""The check after every successful ``up`` of the suite: the database holds
what migrata says it did.

:func:`upgrade` runs :func:`migrata.upgrade` and then reads the database with
the plain backend (not through migrata's ledger code): one ``applied``
history row per versioned migration file up to the version reached, each
with the checksum of its file as it is now, no row left ``running`` or
``failed``, a row for every step the result reports, and every table the
applied SQL files create (and no later one drops) present in the schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import migrata
from migrata import results
from migrata._core.model import Version
from migrata._core.source import load_source
from migrata.testing.suite.dialects import connected

__all__ = ["assert_history_matches", "upgrade"]

_NAME = r"[`\"\[]?([A-Za-z_][A-Za-z0-9_$]*)[`\"\]]?"
_CREATE = re.compile(rf"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", re.I)
_DROP = re.compile(rf"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I)


def upgrade(url: str, target: str | None = None, **kwargs: Any) -> results.MigrateResult:
    """:func:`migrata.upgrade`, then :func:`assert_history_matches` (not after a
    dry run or ``--sql``, which write nothing)."""
    res = migrata.upgrade(url, target, **kwargs)
    if not (kwargs.get("dry_run") or kwargs.get("sql")):
        table, ordering = kwargs.get("table", "migrata_history"), kwargs.get("ordering", "number")
        assert_history_matches(url, res, Path(kwargs["migrations"]), table=table, ordering=ordering)
    return res


def _rows(url: str, table: str) -> dict[str, tuple[str, str]]:
    """version -> (status, checksum) of the history table, read with the plain backend."""
    with connected(url) as b:
        if not b.tables_present([table]):
            return {}
        q = f"SELECT version, status, checksum FROM {b.quote_ident(table)} WHERE kind <> 'ledger'"
        return {str(v): (str(s), str(c or "")) for v, s, c in b.query(q)}


def assert_history_matches(
    url: str, res: results.MigrateResult, folder: Path, *, table: str = "migrata_history", ordering: str = "number"
) -> None:
    """After a successful run: history, files and schema agree (see the module
    docstring); ``ordering``: the set's setting."""
    source = load_source(folder, must_exist=False, ordering=ordering)
    rows = _rows(url, table)
    dirty = {v: s for v, (s, _) in rows.items() if s != "applied"}
    assert not dirty, f"after a successful up, runs are left {dirty}"
    reached = Version.parse(res.after, ordering) if res.after is not None else None
    expected = [m for m in source.versioned if reached is not None and m.version and m.version <= reached]
    for m in expected:
        assert m.id in rows, f"{m.label} is reported applied (now at {res.after}) but has no history row"
        assert rows[m.id][1] == m.checksum, f"{m.label}: history checksum {rows[m.id][1]} is not the file's"
    for step in res.steps:
        assert step.version in rows, f"the run reports {step.version} applied, the history has no row for it"
    for m in source.repeatables:
        if m.id in rows:
            assert rows[m.id][1] == m.checksum, f"{m.label}: history checksum is not the file's"
    _assert_tables_exist(url, source, expected)


def _assert_tables_exist(url: str, source: Any, applied: list[Any]) -> None:
    """Every table the applied SQL creates (and no later one drops) exists."""
    wanted: set[str] = set()
    for m in applied:
        if m.kind != "sql":
            continue
        source.read(m, m.up)
        sql = m.up.sql or ""
        wanted |= {n.lower() for n in _CREATE.findall(sql)}
        wanted -= {n.lower() for n in _DROP.findall(sql)}
    if not wanted:
        return
    with connected(url) as b:
        present = {t.lower() for t in b.table_names()}
    missing = sorted(wanted - present)
    assert not missing, f"the applied migrations create {missing}, which the database does not have"
