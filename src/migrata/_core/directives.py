"""The ``-- migrata:...`` directives of a migration file's leading comment
lines (``no-transaction``, ``transaction``, ``timeout``, ``ddl-lock-timeout``,
``review``, ``review-required``, ``alembic-revision``, ``baseline-of``), read into
its :class:`Script`; and how a down part inherits its up part's ``no-transaction``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from migrata._core.model import Script
from migrata.errors import MigrationFileError
from migrata.util import parse_duration

__all__ = ["apply_directives", "inherit_no_transaction"]

_DIRECTIVE_RE = re.compile(r"^\s*--\s*migrata:([\w-]+)(?:\s+(.*?))?\s*$")
_BASELINE_RE = re.compile(r"^(\d[\w.]*?)\.\.(\d[\w.]*?)(?:\s+archive\s+(\S.*))?$")


def apply_directives(script: Script, lines: Iterable[str], path: Path, first_line: int) -> None:
    """Read ``-- migrata:...`` directives from a file's leading comment
    ``lines`` (the first of them is line ``first_line``) into ``script``."""
    for offset, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        m = _DIRECTIVE_RE.match(stripped)
        if not m:
            continue
        name, arg = m.group(1).lower(), (m.group(2) or "").strip()
        lineno = first_line + offset
        if name in ("no-transaction", "notransaction", "no_transaction"):
            script.transactional = False
            script.explicit_no_transaction = True
        elif name == "transaction":  # a down part saying otherwise than its up part's no-transaction
            script.transactional, script.explicit_transaction = True, True
            script.explicit_no_transaction = False
        elif name == "review":
            pass  # a note for the reviewer (e.g. a likely rename written by autogenerate)
        elif name == "review-required":
            raise MigrationFileError(
                f"needs review before it runs: {arg or 'a change that loses data'}",
                path=str(path),
                line=lineno,
                hint="read the migration; when it is right, delete its '-- migrata:review-required' line",
            )
        elif name == "alembic-revision":
            script.alembic_revision = arg or None
        elif name == "baseline-of":
            _baseline_of(script, arg, path, lineno)
        elif name in ("timeout", "ddl-lock-timeout"):
            try:
                seconds = 0.0 if name != "timeout" and arg.strip() in ("0", "off") else parse_duration(arg)
            except ValueError as exc:
                raise MigrationFileError(str(exc), path=str(path), line=lineno) from None
            if name == "timeout":
                script.timeout = seconds
            else:
                script.ddl_lock_timeout = seconds
        else:
            raise MigrationFileError(
                f"unknown directive '-- migrata:{name}'",
                path=str(path),
                line=lineno,
                hint="known directives: -- migrata:no-transaction, -- migrata:transaction, -- migrata:timeout 30s, "
                "-- migrata:ddl-lock-timeout 2s, -- migrata:review, -- migrata:baseline-of 1..100",
            )


def inherit_no_transaction(up: Script, down: Script) -> None:
    """The up part's ``no-transaction`` (directive, marker option or file-wide
    marker) applies to its down part too, unless the down part says otherwise
    (``-- migrata:transaction``, dbmate's ``-- migrate:down transaction:true``)."""
    if up.explicit_no_transaction and not down.explicit_transaction and not down.explicit_no_transaction:
        down.transactional = False
        down.explicit_no_transaction = True


def _baseline_of(script: Script, arg: str, path: Path, lineno: int) -> None:
    """``-- migrata:baseline-of FIRST..LAST [archive DIR]``: the file is the
    baseline ``migrata squash`` wrote for the versions FIRST to LAST."""
    m = _BASELINE_RE.match(arg)
    if not m:
        raise MigrationFileError(
            f"'-- migrata:baseline-of {arg}' names no range of versions",
            path=str(path),
            line=lineno,
            hint="write it as '-- migrata:baseline-of 1..100' (optionally followed by 'archive DIR')",
        )
    script.baseline_of = (m.group(1), m.group(2))
    script.baseline_archive = m.group(3)
