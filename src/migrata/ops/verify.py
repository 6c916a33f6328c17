"""Verification after migrating: ``*.verify.sql`` scripts and a health check.

A migration ``000003_add_tags`` may have ``000003_add_tags.verify.sql`` (any
file ``<version>_<anything>.verify.sql`` beside it; in a set ordered by
name, ``<version>.verify.sql``). It runs inside a
transaction that is always rolled back, so it can never change anything,
and passes when its last query returns rows, unless that is one value which
is false, 0 or NULL (``SELECT COUNT(*) > 0 FROM tags``); an error fails it.
This is sqitch's idea of verify scripts.

``health_url`` is fetched with GET and must answer 2xx within
``health_timeout``, as the quota-proxy guide's ``curl -fsS .../healthz``.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata._core.model import Version, VersionKey
from migrata._core.source import read_text
from migrata.backends.base import StatementError
from migrata.session import Session
from migrata.util import mask_url

if TYPE_CHECKING:
    import urllib.request

__all__ = ["Check", "health_check", "verify_scripts"]

_VERIFY_RE = re.compile(r"^[Vv]?(?P<version>\d+(?:[._]\d+)*(?:-\d+(?:[._]\d+)*)?)_.*\.verify\.sql$")
_VERIFY_BY_NAME_RE = re.compile(r"^(?P<version>.+)\.verify\.sql$")


@dataclass
class Check:
    """One verification: a script or the health check."""

    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scripts(folder: Path, ordering: str) -> dict[VersionKey, list[Path]]:
    found: dict[VersionKey, list[Path]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.verify.sql")):
        m = (_VERIFY_BY_NAME_RE if ordering == "name" else _VERIFY_RE).match(path.name)
        if m:
            found.setdefault(Version.parse(m.group("version"), ordering).key, []).append(path)
    return found


def verify_scripts(sess: Session, versions: list[str] | None = None) -> list[Check]:
    """Run the verify scripts of the applied migrations (or of ``versions``)."""
    scripts = _scripts(sess.settings.migrations, sess.settings.ordering)
    if not scripts:
        return []
    applied = {r.version_key for r in sess.rows() if r.status == "applied" and r.version_key is not None}
    ordering = sess.settings.ordering
    wanted = (
        applied
        if versions is None
        else {Version.parse(v, ordering).key for v in versions if Version.is_version(v, ordering)}
    )
    checks = []
    for key in sorted(wanted & applied):
        for path in scripts.get(key, []):
            checks.append(_run_script(sess, path))
    return checks


def _run_script(sess: Session, path: Path) -> Check:
    backend = sess.backend
    statements = backend.split(read_text(path))
    if not statements:
        return Check(path.name, False, "the script holds no SQL")
    for stmt in statements:
        if backend.manages_transaction(stmt) or not backend.transactional_statement(stmt):
            # it could make a change that the final rollback would not undo
            return Check(path.name, False, f"line {stmt.line}: a verify script may only read: {stmt.first_line[:60]}")
    backend.begin()
    try:
        for stmt in statements[:-1]:
            backend.run_statement(stmt.sql)
        cur = backend.connection.cursor()
        try:
            cur.execute(statements[-1].sql)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()
    except Exception as exc:  # noqa: BLE001 - any error of the script fails the check
        message = exc.db_message if isinstance(exc, StatementError) else str(exc)
        return Check(path.name, False, f"line {statements[-1].line}: " + " ".join(message.split())[:300])
    finally:
        backend.rollback()
    if not rows:
        return Check(path.name, False, "its last query returned no rows")
    if len(rows) == 1 and len(rows[0]) == 1 and not rows[0][0]:
        return Check(path.name, False, f"its last query returned {rows[0][0]!r}")
    return Check(path.name, True, f"{len(rows)} row(s)")


def health_check(url: str, timeout: float) -> Check:
    """GET ``url`` until it answers 2xx, for at most ``timeout`` seconds (a
    service that was just started again gets that long to come up)."""
    import urllib.error  # urllib.request brings HTTP and e-mail modules, some 10 ms: only when asked
    import urllib.request

    shown = mask_url(url)
    request = _request(url)
    t0 = time.monotonic()
    deadline = t0 + timeout
    delay = 0.1
    while True:
        left = max(0.05, deadline - time.monotonic())
        try:
            with urllib.request.urlopen(request, timeout=left) as resp:  # noqa: S310 - the user's own URL
                status = resp.status
            ms = int((time.monotonic() - t0) * 1000)
            if 200 <= status < 300:
                return Check(f"health {shown}", True, f"HTTP {status} in {ms} ms")
            detail = f"HTTP {status}"
        except urllib.error.HTTPError as exc:
            detail = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            detail = f"no answer: {getattr(exc, 'reason', exc)}"
        if time.monotonic() + delay >= deadline:
            return Check(f"health {shown}", False, f"{detail} (for {timeout:g}s)")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _request(url: str) -> urllib.request.Request:
    """A GET for ``url``; ``user:password@`` in it becomes basic auth, as curl does."""
    import base64
    import urllib.request
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.username is None:
        return urllib.request.Request(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    request = urllib.request.Request(parts._replace(netloc=netloc).geturl())
    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials).decode())
    return request
