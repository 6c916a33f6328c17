"""``--sql``: a plan written as the SQL script that does what a run does —
migrata's own tables if needed, then for each step its statements and the
same bookkeeping rows the run writes, in the same order — for a DBA to
review, or to run with the database's own client."""

from __future__ import annotations

from pathlib import Path

from migrata._core.doubt import unmarked
from migrata._core.ledger import Ledger
from migrata._core.steps import (
    TRANSACTION,
    Prepared,
    event_op,
    history_ops,
    journal_closing,
    journal_marks,
    opening_op,
)
from migrata.backends.base import Backend
from migrata.errors import UsageError

__all__ = ["render_plan"]


def render_plan(backend: Backend, ledger: Ledger, prepared: list[Prepared], *, ledger_exists: bool) -> str:
    """The script of ``prepared``; a plan with a Python migration is refused
    (what its code does is only known when it runs: a script recording it
    as applied would lie)."""
    _refuse_python(prepared)
    out: list[str] = [backend.script_header] if backend.script_header else []
    if not ledger_exists:
        out.append("-- migrata's own tables")
        out.extend(s + ";" for s in ledger.render(*ledger.create_ops()))
        out.append("")
    for item in prepared:
        script = item.step.script
        out.append(f"-- {item.step.direction} {item.migration.label} ({Path(script.path).name}, {item.mode})")
        if item.mode == TRANSACTION:
            out.append(backend.begin_sql + ";")
            out.extend(_body(backend, item))
            out.extend(s + ";" for s in ledger.render(*history_ops(ledger, item, 0), event_op(ledger, item, "ok", 0)))
            out.append("COMMIT;")
        else:
            out.extend(_journaled(backend, ledger, item))
        out.append("")
    return "\n".join(out)


def _journaled(backend: Backend, ledger: Ledger, item: Prepared) -> list[str]:
    out = [s + ";" for s in ledger.render(opening_op(ledger, item, exists=item.step.direction == "down"))]
    statements = item.statements or []
    skipped = unmarked(backend, item)
    for k, line in enumerate(_body(backend, item)):
        if k < len(statements):
            out.extend(s + ";" for s in ledger.render(*journal_marks(ledger, item, statements[k], skipped)))
        out.append(line)
    out.extend(s + ";" for s in ledger.render(*journal_closing(ledger, item, 0)))
    return out


def _body(backend: Backend, item: Prepared) -> list[str]:
    assert item.statements is not None
    return [backend.render_statement(s) for s in item.statements]


def _refuse_python(prepared: list[Prepared]) -> None:
    """Refuse the first Python step, offering the command that renders the
    steps before it (the target of a rollback stays applied)."""
    k = next((i for i, item in enumerate(prepared) if item.statements is None), None)
    if k is None:
        return
    item = prepared[k]
    m, direction = item.migration, item.step.direction
    if k and direction == "up":
        hint = f"`migrata up {prepared[k - 1].migration.id} --sql` writes the script up to the version before it"
    elif k:
        hint = f"`migrata down {m.id} --sql` writes the script of the rollback down to it"
    elif direction == "up":
        hint = f"nothing comes before it: apply it with `migrata up {m.id}`, then `migrata up --sql` writes the rest"
    else:
        hint = "nothing comes before it: roll it back with `migrata down --steps 1`, then ask for the script again"
    raise UsageError(
        f"--sql cannot write the {direction} of Python migration {m.label} ({m.path.name}): what its code does "
        "is only known when it runs, and a script recording it as done would not do it",
        hint=hint,
    )
