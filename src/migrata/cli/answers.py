"""Answers of ``status``, ``check`` and ``current``, kept until what they
depend on changes.

A readiness probe or a CI step asks the same question again and again while
nothing changes. After answering in full, the command line keeps what it
printed and its exit code together with everything the answer depended on;
the next time the same command is run in the same place, it checks those
and, when none changed, prints the kept answer without loading the rest of
migrata, a database driver or the database.

What an answer depends on:

* the command line as parsed (the command, its options and the settings
  options wherever they were written: ``migrata --url U status`` and
  ``migrata status --url U`` ask the same), the working directory and every
  environment variable the settings may be read from (``MIGRATA_*``,
  ``DATABASE_URL``, ``DB_*``): these make the key, hashed, so a kept answer
  never holds a password;
* every file the settings were looked up in, whether it exists or not
  (``migrata.toml`` and ``pyproject.toml`` in each folder up to the root,
  ``.env``, ``--config``), by its signature (:mod:`migrata._fingerprint`);
* the migrations folder, whose own signature changes when a file is added,
  removed or renamed in it, and every migration file a report reads;
* the database, through the probe its backend gives: for SQLite the file's
  identity, size, modification time and the change counter SQLite increments
  on every commit (:mod:`migrata.backends._sqlitestate`). Server databases
  give none: their answers are never kept.

An answer is not kept when any part of it is in doubt: a file or folder
changed in the last two seconds (the next change might not show in its
times), an SQLite database in WAL mode or in the middle of a transaction, or
one that changed while the answer was made, an interrupted or running
migration (the answer depends on who holds the lock), a pending Python
migration (importing it may depend on anything), a broken file, an
``on_connect`` hook, anything logged, or an error. ``MIGRATA_NO_CACHE=1``
turns kept answers off; they live in ``answers/`` of the cache folder
(``MIGRATA_CACHE_DIR``), at most :data:`MAX_ENTRIES` of them.

An ``up`` or ``down`` that ran keeps the answers ``status``, ``check`` and
``check --json`` would give with the same settings right after it,
from what the run already read and checked (:func:`keep_after_run`): the
readiness probe or CI step that follows a deploy finds them. An ``up`` that
found nothing to do and logged nothing keeps its own answer under the same
rules (:func:`keeps_up`): a service that migrates at every start-up pays
for the full answer once.

This module imports only :mod:`os`, :mod:`sys`, :mod:`marshal` and the
command line's own small parser.
"""

from __future__ import annotations

import marshal
import os
import sys

from migrata import _fingerprint
from migrata.cli.argv import REPORTING, parse_fast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_ENTRIES", "enabled", "keep", "keep_after_run", "keeps_up", "lookup"]

FORMAT = 2
MAX_ENTRIES = 256
_ENV_PREFIXES = ("MIGRATA_", "DB_")
_ENV_NAMES = ("DATABASE_URL",)
_ANSWERED = frozenset(REPORTING.values())


def _entry_path(folder: str, command: str, opts: dict[str, Any], extra: dict[str, Any]) -> str:
    from migrata import __version__

    environ = os.environ
    env = sorted((k, v) for k, v in environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    asked = (command, sorted(opts.items()), sorted(extra.items()))
    key = repr((FORMAT, __version__, sys.version, sys.executable, os.getcwd(), asked, env))
    return os.path.join(folder, "answers", _fingerprint.sha256_hex(key.encode("utf-8", "surrogatepass"))[:40] + ".bin")


def enabled() -> bool:
    """Whether answers are kept at all (``MIGRATA_NO_CACHE`` unset)."""
    return _fingerprint.cache_dir() is not None


def lookup(args: list[str]) -> tuple[str, int] | None:
    """The kept answer (printed text, exit code) of ``migrata ARGS`` when
    nothing it depended on changed; None otherwise."""
    folder = _fingerprint.cache_dir()
    if folder is None:
        return None
    parsed = parse_fast(args)
    if parsed is None or (parsed[0] not in _ANSWERED and not keeps_up(parsed[0], parsed[2])):
        return None
    try:
        path = _entry_path(folder, *parsed)
        with open(path, "rb", buffering=0) as fh:
            data = fh.readall()  # marshal.load(fh) would read it in many small calls
        fmt, files, folders, probes, out, code = marshal.loads(data)
        if fmt != FORMAT:
            return None
        return (out, code) if _unchanged(files, folders, probes) else None
    except (OSError, EOFError, ValueError, TypeError, ImportError, AttributeError):
        return None  # no kept answer, or one this version cannot read: answer in full


def keeps_up(command: str, extra: dict[str, Any]) -> bool:
    """Whether an answer of this ``up`` may be kept: one that prints no
    JSON (it carries the run's duration), no plan and no SQL."""
    return command == "up" and not (extra["json"] or extra["dry_run"] or extra["sql"])


def _unchanged(files: Any, folders: Any, probes: Any) -> bool:
    path_signature = _fingerprint.path_signature
    for path, sig in files:
        if path_signature(path) != sig:
            return False
    for folder, folder_sig, members in folders:
        if path_signature(folder) != folder_sig:
            return False
        fd = os.open(folder, os.O_RDONLY)
        try:
            for name, sig in members:
                st = os.stat(name, dir_fd=fd)
                if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != sig:
                    return False
        finally:
            os.close(fd)
    for spec, token in probes:
        if token is None or _fingerprint.probe(spec) != token:
            return False
    return True


def keep(
    command: str, opts: dict[str, Any], extra: dict[str, Any], out: str, code: int, inputs: dict[str, Any] | None
) -> bool:
    """Keep the answer of the parsed command line ``(command, opts, extra)``
    (see the module docstring); False when it cannot be kept. Never raises
    for a cache it cannot write."""
    return _keep_all([(command, opts, extra, out, code)], inputs)


def keep_after_run(opts: dict[str, Any], answers: list[tuple[str, bool, str, int]], inputs: dict[str, Any]) -> None:
    """After an ``up``/``down`` with settings ``opts``: keep each ``(command,
    as_json, printed text, exit code)`` as the answer of that command asked
    with the same settings options (its -q/-v left out)."""
    settings = {k: v for k, v in opts.items() if k not in ("quiet", "verbose")}
    _keep_all([(command, settings, {"json": as_json}, out, code) for command, as_json, out, code in answers], inputs)


def _keep_all(
    answers: list[tuple[str, dict[str, Any], dict[str, Any], str, int]], inputs: dict[str, Any] | None
) -> bool:
    """Keep answers that depend on the same ``inputs`` (signatures taken once)."""
    folder = _fingerprint.cache_dir()
    if folder is None or inputs is None:
        return False
    import time

    entry = _entry(inputs, time.time_ns())
    if entry is None:
        return False
    try:
        for command, opts, extra, out, code in answers:
            path = _entry_path(folder, command, opts, extra)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps((FORMAT, *entry, out, code)))
            os.replace(tmp, path)
        _trim(os.path.join(folder, "answers"))
    except (OSError, ValueError):
        return False
    return True


def _entry(inputs: dict[str, Any], now: int) -> tuple[Any, Any, Any] | None:
    """(files, folders, probes) with the signatures they have now; None when
    one is too fresh to be trusted."""
    settled, path_signature = _fingerprint.settled, _fingerprint.path_signature
    files = []
    for path in inputs["config"]:
        sig = path_signature(path)
        if not settled(sig, now):
            return None
        files.append((path, sig))
    folder = inputs["folder"]
    folder_sig = path_signature(folder)
    if folder_sig is None or not settled(folder_sig, now):
        return None
    members = []
    known = inputs.get("signatures") or {}  # as the report found them: the answer is made from those
    for name in inputs["files"]:
        sig = known.get(name) or path_signature(os.path.join(folder, name))
        if sig is None or not settled(sig, now):
            return None
        members.append((name, sig))
    spec, token = inputs["probe"]
    return tuple(files), ((folder, folder_sig, tuple(members)),), ((spec, token),)


def _trim(folder: str) -> None:
    """At most MAX_ENTRIES kept answers: the oldest go."""
    with os.scandir(folder) as it:
        entries = [e for e in it if e.name.endswith(".bin")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for e in entries[: len(entries) - MAX_ENTRIES]:
        try:
            os.remove(e.path)
        except OSError:
            pass
