"""Settling the statement a crash left in doubt, by looking at the schema.

A journaled run that was cut short records the statements that completed and
the one in doubt (it may have completed or not; so may the statements after
it that :func:`unmarked` wrote no mark before). ``repair --resume`` asks
:func:`settle`, which looks at each in turn: a DDL statement leaves something to see (a table,
column, index, view, routine, trigger, sequence or constraint present or
absent), which :func:`expected` reads from the statement with a small
recogniser of the DDL forms and the backend looks up
(:meth:`~migrata.backends.base.Backend.has_object`). A statement that is
harmless to run again (``IF [NOT] EXISTS``, ``OR REPLACE``) runs again; a
data change inside the journal's transaction was rolled back with it. Any
other statement (a data change outside a transaction, a statement whose
effect cannot be seen) is left to the user, with what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migrata.backends._sqltext import bare_name
from migrata.backends.base import Backend, Statement
from migrata.errors import DirtyStateError

if TYPE_CHECKING:
    from migrata._core.steps import Prepared

__all__ = ["Effect", "Expected", "expected", "settle", "unmarked"]

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|\#[^\n]*|/\*!\d*|\*/|/\*.*?\*/
    |(?P<q>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
    |(?P<s>'(?:[^'\\]|''|\\.)*')
    |(?P<w>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<o>\S)""",
    re.S | re.X,
)
_KINDS = {"TABLE", "VIEW", "INDEX", "PROCEDURE", "FUNCTION", "TRIGGER", "SEQUENCE"}
_KIND = {"PROCEDURE": "routine", "FUNCTION": "routine"}
_UNNAMED = {"PRIMARY", "FOREIGN", "CHECK", "PARTITION", "PERIOD", "SYSTEM", "("}
_MODIFIERS = {"UNIQUE", "FULLTEXT", "SPATIAL", "AGGREGATE", "RECURSIVE", "ALGORITHM", "DEFINER", "SQL", "SECURITY"}


@dataclass(frozen=True)
class Effect:
    """One object the statement leaves ``present`` (or absent)."""

    kind: str
    name: str  # as the statement writes it
    table: str | None = None
    present: bool = True

    def describe(self) -> str:
        on = f" on {self.table}" if self.table and self.kind != "table" else ""
        return f"{self.kind} {self.name}{on}"


@dataclass(frozen=True)
class Expected:
    """What a statement leaves behind: ``effects`` to look up, or
    ``repeatable`` (running it again is harmless)."""

    effects: tuple[Effect, ...] = ()
    repeatable: bool = False


class _Tokens:
    def __init__(self, sql: str) -> None:
        self.items: list[tuple[str, str]] = []  # (kind: w/q/s/o, text)
        for m in _TOKEN.finditer(sql):
            kind = m.lastgroup
            if kind is not None:
                self.items.append((kind, m.group(kind)))
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        """The keyword (upper-cased word) or punctuation ``ahead``; "" otherwise."""
        i = self.pos + ahead
        if i >= len(self.items):
            return ""
        kind, text = self.items[i]
        return text.upper() if kind == "w" else text if kind == "o" else "\0"

    def take(self, *words: str) -> bool:
        """Consume ``words`` if they come next."""
        if all(self.peek(i) == w for i, w in enumerate(words)):
            self.pos += len(words)
            return True
        return False

    def name(self) -> str | None:
        """A possibly qualified identifier, as written."""
        parts = []
        while self.pos < len(self.items) and self.items[self.pos][0] in ("w", "q"):
            parts.append(self.items[self.pos][1])
            self.pos += 1
            if self.peek() != ".":
                break
            self.pos += 1
        return ".".join(parts) or None

    def find(self, word: str) -> bool:
        """Skip to just after the next top-level ``word``."""
        depth = 0
        while self.pos < len(self.items):
            tok = self.peek()
            self.pos += 1
            depth += tok == "("
            depth -= tok == ")"
            if depth == 0 and tok == word:
                return True
        return False

    def clauses(self) -> list[_Tokens]:
        """The rest cut at top-level commas."""
        out, depth, start = [], 0, self.pos
        for i in range(self.pos, len(self.items) + 1):
            tok = self.items[i][1] if i < len(self.items) and self.items[i][0] == "o" else ""
            depth += tok == "("
            depth -= tok == ")"
            if i == len(self.items) or (tok == "," and depth == 0):
                part = _Tokens("")
                part.items = self.items[start:i]
                out.append(part)
                start = i + 1
        return out


def expected(sql: str) -> Expected | None:
    """What ``sql`` leaves in the schema, or None when it is not a DDL form
    this recogniser knows."""
    t = _Tokens(sql)
    if t.take("CREATE"):
        return _create(t)
    if t.take("DROP"):
        return _drop(t)
    if t.take("ALTER", "TABLE"):
        return _alter(t)
    if t.take("RENAME", "TABLE"):
        effects: list[Effect] = []
        for part in t.clauses():
            old, new = part.name(), part.take("TO") and part.name()
            if not old or not new:
                return None
            effects += [Effect("table", new), Effect("table", old, present=False)]
        return Expected(tuple(effects))
    return None


def _create(t: _Tokens) -> Expected | None:
    replace = t.take("OR", "REPLACE")
    while True:  # what may come before the kind: UNIQUE, ALGORITHM = x, DEFINER = u@h, SQL SECURITY x
        word = t.peek()
        if word in _MODIFIERS:
            t.pos += 1
        elif word in ("=", "@"):
            t.pos += 2  # and the value
        elif word == "(" and t.peek(1) == ")":  # CURRENT_USER()
            t.pos += 2
        else:
            break
    t.take("MATERIALIZED")
    word = t.peek()
    if word not in _KINDS:
        return None
    t.pos += 1
    t.take("CONCURRENTLY")
    if replace or t.take("IF", "NOT", "EXISTS"):
        return Expected(repeatable=True)
    name = t.name()
    if name is None or name.upper() == "ON":
        return None  # an index without a name
    kind = _KIND.get(word, word.lower())
    table = t.name() if kind in ("index", "trigger") and t.find("ON") and (t.take("ONLY") or True) else None
    return Expected((Effect(kind, name, table),))


def _drop(t: _Tokens) -> Expected | None:
    t.take("TEMPORARY")
    t.take("MATERIALIZED")
    word = t.peek()
    if word not in _KINDS:
        return None
    t.pos += 1
    t.take("CONCURRENTLY")
    if t.take("IF", "EXISTS"):
        return Expected(repeatable=True)
    kind = _KIND.get(word, word.lower())
    effects = []
    for part in t.clauses():
        name = part.name()
        if name is None:
            return None
        table = part.name() if part.take("ON") else None
        effects.append(Effect(kind, name, table, present=False))
    return Expected(tuple(effects))


def _alter(t: _Tokens) -> Expected | None:
    t.take("ONLY")
    t.take("IF", "EXISTS")
    table = t.name()
    if table is None:
        return None
    effects: list[Effect] = []
    for part in t.clauses():
        found = _alteration(part, table)
        if found is None:
            continue  # a change not seen by name (a type, a default...): the others decide
        if found.repeatable:
            return found
        effects.extend(found.effects)
    return Expected(tuple(effects)) if effects else None


def _alteration(t: _Tokens, table: str) -> Expected | None:
    """One clause of ALTER TABLE."""
    if t.take("RENAME"):
        return _rename(t, table)
    if t.take("CHANGE"):
        t.take("COLUMN")
        old, new = t.name(), t.name()
        if not old or not new or old == new:
            return None
        return Expected((Effect("column", new, table), Effect("column", old, table, present=False)))
    adding = t.take("ADD")
    if not adding and not t.take("DROP"):
        return None
    kind = "column"
    if t.take("CONSTRAINT") or (not adding and (t.take("FOREIGN", "KEY") or t.take("CHECK"))):
        kind = "constraint"
    elif t.take("UNIQUE") or t.take("FULLTEXT") or t.take("SPATIAL") or t.peek() in ("INDEX", "KEY"):
        kind = "index"
        _ = t.take("INDEX") or t.take("KEY")
    elif t.peek() in _UNNAMED or (t.take("COLUMN") and t.peek() == "("):
        return None  # a primary key, an unnamed key or check, a list of columns...
    if t.take("IF", "NOT", "EXISTS") or t.take("IF", "EXISTS"):
        return Expected(repeatable=True)
    name = t.name()
    if name is None or (kind == "constraint" and adding and t.peek() == "("):
        return None
    return Expected((Effect(kind, name, table, present=adding),))


def _rename(t: _Tokens, table: str) -> Expected | None:
    word = t.peek()
    if word in ("COLUMN", "INDEX", "KEY", "CONSTRAINT"):
        t.pos += 1
    elif not (t.take("TO") or t.take("AS")):
        word = "COLUMN"  # RENAME a TO b: a column (PostgreSQL), or RENAME b: the table (MySQL)
    elif (new := t.name()) is not None:
        return Expected((Effect("table", new), Effect("table", table, present=False)))
    kind = {"COLUMN": "column", "CONSTRAINT": "constraint"}.get(word, "index")
    old = t.name()
    if old is None:
        return None
    if not t.take("TO"):
        return Expected((Effect("table", old), Effect("table", table, present=False)))
    new = t.name()
    return Expected((Effect(kind, new, table), Effect(kind, old, table, present=False))) if new else None


# --- which statements need no progress mark -----------------------------------------------


def unmarked(backend: Backend, item: Prepared, start: int = 0) -> frozenset[int]:
    """The statements of ``item`` (run from ``start``) that the journal
    writes no progress mark before, where journal writes wait for the next
    commit (DDL committing implicitly: each mark costs a commit of its own):

    * a data change: its mark would only commit with it and tell nothing the
      next mark does not; a crash in it leaves the DDL before it in doubt;
    * DDL right after DDL that :func:`settle` can see (a marked one, or the
      first), when it touches none of the objects that one names: a crash
      then leaves both in doubt, and ``settle`` looks up each in turn. A
      migration of CREATE TABLE and CREATE INDEX costs one commit fewer
      (as many as the client running them by hand)."""
    if not backend.defers_journal_commits or item.statements is None:
        return frozenset()
    stmts, skipped = item.statements, set()
    for k in range(start + 1, len(stmts)):
        if backend.transactional_statement(stmts[k]):
            skipped.add(k)
        elif k - 1 not in skipped and _seen_apart(backend, stmts[k - 1], stmts[k]):
            skipped.add(k)
    return frozenset(skipped)


def _seen_apart(backend: Backend, first: Statement, second: Statement) -> bool:
    """Whether ``first`` is DDL whose completion the schema shows (objects
    that were not so before), whatever ``second`` did after it."""
    if backend.transactional_statement(first):
        return False
    a, b = expected(first.sql), expected(second.sql)
    if a is None or b is None or a.repeatable or not a.effects:
        return False
    names = {bare_name(e.name) for e in a.effects} | {bare_name(e.table) for e in a.effects if e.table}
    return not any(bare_name(e.name) in names for e in b.effects)


# --- settling -------------------------------------------------------------------------------


def settle(backend: Backend, item: Prepared, k: int) -> tuple[int, str]:
    """The statement to resume ``item`` from, its statement ``k`` (0-based)
    being in doubt (and the statements after it that no mark separates from
    it), and what was found. Raises DirtyStateError, with the evidence, when
    the schema cannot tell."""
    assert item.statements is not None
    window = unmarked(backend, item, k)
    found = []
    while True:
        resume, what = _settle_one(backend, item, k, k + 1 in window)
        found.append(what)
        if resume == k or resume not in window:
            return resume, "; ".join(found)
        k = resume


def _settle_one(backend: Backend, item: Prepared, k: int, next_unmarked: bool) -> tuple[int, str]:
    assert item.statements is not None
    stmt = item.statements[k]
    n = k + 1
    if backend.defers_journal_commits and not item.self_managed and backend.transactional_statement(stmt):
        return k, f"statement {n} is a data change that was rolled back with the journal's open transaction"
    found = expected(stmt.sql)
    if found is not None and found.repeatable:
        return k, f"statement {n} is harmless to run again"
    seen = _look(backend, found.effects) if found is not None else []
    if seen and all(ok for _, ok in seen):
        return k + 1, f"statement {n} completed: {_evidence(seen)}"
    if seen and not any(ok for _, ok in seen):
        return k, f"statement {n} did not complete: {_evidence(seen)}"
    m = item.migration
    where = f"{Path(item.step.script.path).name}:{stmt.line}"
    why = _evidence(seen) if seen else "its effect cannot be seen in the schema"
    also = f"; if it did, so may statement {n + 1} (no mark came between them): check it too" if next_unmarked else ""
    raise DirtyStateError(
        f"statement {n} of {m.label} ({where}: {stmt.first_line[:80]}) may or may not have taken effect: {why}",
        hint=f"check by hand, then `migrata repair {m.id} --resume-from {n}` (it did not take effect) "
        f"or `--resume-from {n + 1}` (it did){also}",
    )


def _look(backend: Backend, effects: tuple[Effect, ...]) -> list[tuple[str, bool]]:
    """Each effect described as found, and whether it is as the statement leaves it
    (an object the backend cannot look up is left out)."""
    out = []
    for e in effects:
        there = backend.has_object(e.kind, e.name, table=e.table)
        if there is not None:
            out.append((f"{e.describe()} {'present' if there else 'absent'}", there == e.present))
    return out


def _evidence(seen: list[tuple[str, bool]]) -> str:
    return ", ".join(text for text, _ in seen)
