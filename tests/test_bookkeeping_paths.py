"""Every execution path writes the same bookkeeping rows (issue 15, point 3).

migrata writes its history (``migrata_history``) and event log
(``migrata_events``) either with driver parameters or as SQL text with the
values inlined (a step sent in one call, a journal sent in one packet, the
``up --sql`` script). Both must record exactly the same thing. These tests run
the same migrations, whose file names (hence recorded names) and error texts
hold quotes, backslashes (one at the end too), ``%``/``%s``, unicode and
newlines, through every path on every database, and compare the rows read
back with the driver. Ids, timestamps, durations, ``applied_by``/``actor``
and the event detail's ``mode`` (which is what differs between the paths:
it is checked against the path instead) are left out of the comparison;
everything else, name and error text included, is compared. Checksums are
checked against the SHA-256 of each file, then compared as "the file's".

How each path is chosen today (``_core/runner.py``), i.e. what each file
header below selects:

* SQLite, PostgreSQL
  - ``one-call``: a transactional migration without a timeout: the step, its
    history and event rows go as one ``run_script`` (``_run_in_one_call``,
    values inlined).
  - ``tx-statements``: the same with ``-- migrata:timeout 30s``: the runner
    sends the statements one by one (``_run_transaction`` +
    ``execute_body``), its rows with parameters. The reference path.
  - ``journal``: ``-- migrata:no-transaction``: on these databases the
    journal always goes statement by statement, rows with parameters.
  - ``sql-client``: ``migrata up --sql`` (``Runner.render``) piped into
    ``sqlite3 -bail`` / ``psql -v ON_ERROR_STOP=1`` on a fresh database.
* MariaDB
  - ``transaction``: a data-only migration (INSERTs): one transaction,
    statement by statement, rows with parameters. The reference path.
  - ``journal-batch``: DDL without a timeout: the journaled step goes in one
    multi-statement packet (``_batchable`` -> ``_run_journal_batch``), its
    running/progress/closing rows inlined.
  - ``journal-statements``: DDL with ``-- migrata:timeout 30s``: journaled
    statement by statement (``execute_body``), rows with parameters.
  - ``sql-client``: ``migrata up --sql`` of the DDL migrations piped into
    ``mariadb`` (with ``--default-character-set=utf8mb4``: the client's
    default here, utf8mb3, cannot carry the emoji of a name, and the script
    does not say which character set it is in).

Paths whose text is inlined are also run under the session setting that
changes how the server reads a string literal, set the way a user would
(the values must then be rendered by that setting's rules):

* ``+scs-off`` (PostgreSQL): ``ALTER DATABASE ... SET
  standard_conforming_strings = off``, so migrata's session and psql's read
  a backslash in ``'...'`` as an escape.
* ``+nbe`` (MariaDB): ``NO_BACKSLASH_ESCAPES`` added to ``sql_mode`` by the
  URL's ``init_command`` (and the client's ``--init-command``), so a
  backslash is an ordinary character.

A failing migration (its second statement fails, and the server's error
text echoes quotes, backslashes, ``%``, unicode and a newline) runs through
the live paths: its ``failed`` event must be the same on every path, a
journaled failure's history row the same on every journal path, and the
error recorded must be the text the server gives for that statement.

Each observation (one path, one scenario) uses its own fresh database and
is made once per module: the reference path's is shared by the tests that
compare against it. The migrations and the test's reads go through the CLI
and the drivers only, so the tests do not depend on how the runner is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from _servers import Server, open_server
from migrata.backends.base import DatabaseURL
from migrata.testing import temporary_database

# --- the migrations ---------------------------------------------------------------------

#: Recorded names (the part of the file name after the version). A name cannot
#: hold a newline: migrata's file-name patterns do not match one (the file is
#: refused as "does not parse as a migration"), so newlines go in error texts.
#: ``?`` is SQLite's placeholder, ``%s`` the others'; ``esc_\\n_\\t`` holds a
#: backslash and a letter, which MySQL's (and PostgreSQL's non-standard)
#: string syntax reads as a control character. The name ending in a
#: backslash comes last: where it breaks a run, the others have been
#: recorded before it.
NAMES = [
    "q'uote",
    'd"quote',
    "back\\slash",
    "pct_50%_%s_%%_?",
    "unicode_é_中文_🎉",
    "esc_\\n_\\t",
    "trail\\",
]
FAILING_NAME = "fails_q'uote_%s_é"

#: The value the failing statement feeds to an integer column (PostgreSQL,
#: MariaDB) or uses as a table name (SQLite); servers echo it in their error.
BAD = 'q\'uote "dq" back\\slash 50% %s é 中文 🎉 line1\nline2 trail\\'

HEADERS = {
    "one-call": "-- path: one call (no directive)",
    "tx-statements": "-- migrata:timeout 30s",
    "journal": "-- migrata:no-transaction",
    "transaction": "-- path: transaction (data only)",
    "journal-batch": "-- path: journal batch (DDL, no timeout)",
    "journal-statements": "-- migrata:timeout 30s",
    "sql-client": "-- path: up --sql piped into the client",
}
PATHS = {
    "sqlite": ["one-call", "tx-statements", "journal", "sql-client"],
    "postgresql": ["one-call", "tx-statements", "journal", "sql-client", "one-call+scs-off", "sql-client+scs-off"],
    "mysql": [
        "transaction",
        "journal-batch",
        "journal-statements",
        "sql-client",
        "journal-batch+nbe",
        "sql-client+nbe",
    ],
}
REFERENCE = {"sqlite": "tx-statements", "postgresql": "tx-statements", "mysql": "transaction"}
JOURNALED = {"journal", "journal-batch", "journal-statements"}
#: The session setting of a "+nbe" path (MariaDB), given as the URL's init_command
#: and the client's --init-command.
NBE = "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"


def base(path: str) -> str:
    """The path without its setting: ``one-call+scs-off`` -> ``one-call``."""
    return path.partition("+")[0]


def expected_mode(dialect: str, path: str) -> str:
    """The event detail's ``mode`` the path must show."""
    path = base(path)
    if path in JOURNALED or (path == "sql-client" and dialect == "mysql"):
        return "journal"
    return "transaction"


def sql_text(dialect: str, value: str) -> str:
    """``value`` as a string literal of the migration's own SQL."""
    if dialect == "mysql":
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


def success_body(dialect: str, path: str, k: int) -> str:
    if dialect == "mysql" and path == "transaction":  # data only: `notes` is made by the test
        return f"INSERT INTO notes (n) VALUES ({k});\nINSERT INTO notes (n) VALUES ({k + 100});\n"
    return f"CREATE TABLE t{k} (n INTEGER);\nINSERT INTO t{k} (n) VALUES ({k});\n"


def failing_body(dialect: str, path: str) -> str:
    if dialect == "sqlite":
        table = '"missing ' + BAD.replace('"', '""') + '"'
        return f"CREATE TABLE notes (n INTEGER);\nINSERT INTO {table} (n) VALUES (1);\n"
    first = "INSERT INTO notes (n) VALUES (1)" if path == "transaction" else "CREATE TABLE notes (n INTEGER)"
    return f"{first};\nINSERT INTO notes (n) VALUES ({sql_text(dialect, BAD)});\n"


def write_migrations(folder: Path, dialect: str, path: str, scenario: str) -> dict[str, tuple[str, str]]:
    """The files of ``scenario``; returns version -> (name, checksum of the file)."""
    header = HEADERS[base(path)]
    if scenario == "success":
        bodies = [(name, success_body(dialect, path, k)) for k, name in enumerate(NAMES, 1)]
    else:
        bodies = [(FAILING_NAME, failing_body(dialect, path))]
    written = {}
    for k, (name, body) in enumerate(bodies, 1):
        text = f"{header}\n{body}"
        (folder / f"{k:06d}_{name}.up.sql").write_bytes(text.encode("utf-8"))
        written[str(k)] = (name, hashlib.sha256(text.encode("utf-8")).hexdigest())
    return written


# --- the databases ----------------------------------------------------------------------


class SqliteServer(Server):
    """:class:`Server`'s CLI and direct reads, for a SQLite file."""

    @property
    def file(self) -> str:
        return self.url[len("sqlite:///") :]

    def connect(self, **extra: Any) -> Any:
        return sqlite3.connect(self.file, isolation_level=None)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(query, params).fetchall()]

    def all_tables(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT name FROM sqlite_master WHERE type = 'table'")}


@contextlib.contextmanager
def fresh(dialect: str, root: Path) -> Iterator[Server]:
    if dialect != "sqlite":
        with open_server(dialect, root) as server:
            yield server
        return
    root.mkdir(parents=True, exist_ok=True)
    with temporary_database("sqlite", directory=root) as url:
        server = SqliteServer(dialect, url, root)
        try:
            yield server
        finally:
            server.close()


def client_command(server: Server, setting: str) -> list[str]:
    """The database's own client, reading a script on stdin and stopping at its first error."""
    names = {"sqlite": ["sqlite3"], "postgresql": ["psql"], "mysql": ["mariadb", "mysql"]}[server.dialect]
    binary = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if binary is None:
        pytest.skip(f"no {' or '.join(names)} client installed")
    if isinstance(server, SqliteServer):
        return [binary, "-bail", server.file]
    if server.pg:
        return [binary, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.url, "-f", "-"]
    u = DatabaseURL.parse(server.url)
    args = [binary, f"--host={u.host}", f"--port={u.port or 3306}", f"--user={u.username or 'root'}"]
    if u.password:
        args.append(f"--password={u.password}")
    if setting == "nbe":
        args.append(f"--init-command={NBE}")
    # the client's default character set here is utf8mb3, which cannot carry an emoji
    return [*args, "--default-character-set=utf8mb4", str(u.database)]


def server_says(server: Server, statement: str) -> str:
    """The server's own error text for ``statement``, run directly by the driver."""
    try:
        server.sql(statement)
    except Exception as exc:  # noqa: BLE001 - each driver's error class
        diag = getattr(exc, "diag", None)
        if diag is not None and diag.message_primary:
            return str(diag.message_primary)
        args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
        return str(args[1]) if server.dialect == "mysql" and len(args) > 1 else str(exc)
    raise AssertionError(f"the failing statement ran without error: {statement!r}")


# --- observing one path -----------------------------------------------------------------


@dataclass
class Observation:
    """What one path left in migrata's tables, normalised."""

    dialect: str
    path: str
    exit_code: int
    output: str
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    server_error: str | None = None
    problems: list[str] = field(default_factory=list)  # its own checks (see own_problems)


def read_rows(server: Server, obs: Observation) -> None:
    tables = server.all_tables()
    db = server.name if server.dialect != "sqlite" else None

    def clean(text: Any) -> Any:
        return text.replace(db, "<database>") if db and isinstance(text, str) else text

    if "migrata_history" in tables:
        cols = ["version", "name", "kind", "checksum", "status", "error", "progress", "statements", "direction"]
        rows = server.sql(f"SELECT {', '.join(cols)} FROM migrata_history")
        obs.history = sorted(
            ({c: clean(v) for c, v in zip(cols, r, strict=True)} for r in rows), key=lambda r: r["version"]
        )
    if "migrata_events" in tables:
        cols = ["action", "version", "name", "outcome", "detail"]
        # the `lock` event (who took the lock, on MariaDB) names a connection id, not a path's bookkeeping
        rows = server.sql(f"SELECT {', '.join(cols)} FROM migrata_events WHERE action <> 'lock' ORDER BY id")
        obs.events = [{c: clean(v) for c, v in zip(cols, r, strict=True)} for r in rows]
        for event in obs.events:
            event["detail"] = parse_detail(event["detail"])


def parse_detail(raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"<not JSON>": raw}


def run_path(server: Server, path: str) -> tuple[int, str]:
    """Apply the migrations by ``path``: (exit code, output) of migrata or of the client."""
    kind, _, setting = path.partition("+")
    url = server.url
    if setting == "scs-off":  # for every later session: migrata's, and psql's
        server.sql(f'ALTER DATABASE "{server.name}" SET standard_conforming_strings = off')
    if setting == "nbe":
        url = f"{server.url}?init_command={quote(NBE)}"
    if kind == "transaction":  # the data-only migrations write into a table of the test's
        server.sql("CREATE TABLE notes (n INTEGER)")
    if kind != "sql-client":
        result = server.run("up", url=url)
        return result.exit_code, result.output
    rendered = server.run("up", "--sql", url=url)
    assert rendered.exit_code == 0, rendered.output
    command = client_command(server, setting)
    proc = subprocess.run(command, input=rendered.stdout, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def observe(dialect: str, path: str, scenario: str, root: Path) -> Observation:
    with fresh(dialect, root) as server:
        files = write_migrations(server.migrations, dialect, base(path), scenario)
        code, output = run_path(server, path)
        obs = Observation(dialect, path, code, output, files=files)
        read_rows(server, obs)
        obs.problems = own_problems(obs)
        if scenario == "failure" and base(path) in JOURNALED:  # its first statement is committed there
            said = server_says(server, failing_body(dialect, base(path)).split(";\n")[1])
            obs.server_error = said.replace(server.name, "<database>") if dialect != "sqlite" else said
        return obs


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str], Observation]:
    """(dialect, path, scenario) -> its observation, each made once per module."""
    made: dict[tuple[str, str, str], Observation] = {}

    def get(dialect: str, path: str, scenario: str) -> Observation:
        key = (dialect, path, scenario)
        if key not in made:
            made[key] = observe(dialect, path, scenario, tmp_path_factory.mktemp(f"{dialect}-{path}-{scenario}"))
        return made[key]

    return get


# --- comparing --------------------------------------------------------------------------


def own_problems(obs: Observation) -> list[str]:
    """Checks of one path on its own: the names recorded are the files' names,
    the checksums the files' checksums, the mode the path's. Normalises the
    checksum and drops the mode afterwards."""
    problems = []
    mode = expected_mode(obs.dialect, obs.path)
    for row in obs.history:
        if row["kind"] == "ledger" or row["version"] not in obs.files:
            continue
        name, digest = obs.files[row["version"]]
        if row["name"] != name:
            problems.append(f"history {row['version']}: name {row['name']!r}, the file says {name!r}")
        if row["checksum"] != digest:
            problems.append(f"history {row['version']}: checksum {row['checksum']!r}, the file's is {digest!r}")
        row["checksum"] = "<sha256 of the file>"
    for event in obs.events:
        if event["version"] not in obs.files:
            continue
        name, digest = obs.files[event["version"]]
        if event["name"] != name:
            problems.append(
                f"event {event['action']} {event['version']}: name {event['name']!r}, the file says {name!r}"
            )
        detail = event["detail"] if isinstance(event["detail"], dict) else {}
        if "checksum" in detail and detail["checksum"] != digest:
            problems.append(f"event {event['version']}: checksum {detail['checksum']!r}, the file's is {digest!r}")
        if "checksum" in detail:
            detail["checksum"] = "<sha256 of the file>"
        if "<not JSON>" not in detail and detail.pop("mode", None) != mode:
            problems.append(f"event {event['action']} {event['version']}: mode is not {mode!r}: {event['detail']!r}")
    return problems


def keyed(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows by a label: a history row by its version, an event by its action,
    version and how many of the same came before it."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        label = f"{row['action']} {row['version']}" if "action" in row else str(row["version"])
        n = sum(1 for k in out if k.split("#")[0] == label)
        out[f"{label}#{n + 1}" if n else label] = row
    return out


def row_problems(what: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Field by field differences between two lists of rows, and in their order."""
    exp, act = keyed(expected), keyed(actual)
    problems = [f"{what} {k}: missing, expected {exp[k]!r}" for k in exp if k not in act]
    problems += [f"{what} {k}: extra row {act[k]!r}" for k in act if k not in exp]
    for k in exp.keys() & act.keys():
        e, a = exp[k], act[k]
        problems += [f"{what} {k}: {c}: expected {e[c]!r}, got {a.get(c)!r}" for c in e if e[c] != a.get(c)]
    if not problems and list(exp) != list(act):
        problems.append(f"{what} rows in another order: expected {list(exp)}, got {list(act)}")
    return sorted(problems)


def report(obs: Observation, problems: list[str]) -> str:
    return "\n".join([f"{obs.dialect} {obs.path}:", *problems, "--- output of the run ---", obs.output[-3000:]])


# --- the tests --------------------------------------------------------------------------


def cases() -> list[Any]:
    return [pytest.param(d, p, id=f"{d}-{p}") for d, paths in PATHS.items() for p in paths]


def failure_cases() -> list[Any]:
    """The live paths, under the servers' default settings: under the "+" settings
    the migration's own SQL (its string literals) would mean something else."""
    return [
        pytest.param(d, p, id=f"{d}-{p}")
        for d, paths in PATHS.items()
        for p in paths
        if p != "sql-client" and "+" not in p
    ]


@pytest.mark.parametrize(("dialect", "path"), cases())
def test_path_records_the_same_rows(dialect: str, path: str, observed: Any) -> None:
    """Seven migrations with awkward names: the same history and events as the reference path."""
    reference = observed(dialect, REFERENCE[dialect], "success")
    obs = observed(dialect, path, "success")
    problems = list(obs.problems)
    if obs.exit_code != 0:
        problems.append(f"the run failed (exit code {obs.exit_code})")
    problems += row_problems("history", reference.history, obs.history)
    problems += row_problems("event", reference.events, obs.events)
    assert len([r for r in reference.history if r["kind"] != "ledger"]) == len(NAMES), report(reference, [])
    assert not problems, report(obs, problems)


@pytest.mark.parametrize(("dialect", "path"), failure_cases())
def test_path_records_the_same_failure(dialect: str, path: str, observed: Any) -> None:
    """A failing migration: the same ``failed`` event on every path, the same
    history row on every journal path, and the error is the server's text."""
    obs = observed(dialect, path, "failure")
    journal_paths = [p for p in PATHS[dialect] if p in JOURNALED]
    reference = observed(dialect, REFERENCE[dialect], "failure")
    journal_ref = observed(dialect, journal_paths[-1], "failure")
    problems = list(obs.problems)
    if obs.exit_code == 0:
        problems.append("the run succeeded")
    problems += row_problems("event", reference.events, obs.events)
    failed = [e for e in obs.events if e["outcome"] == "failed"]
    error = failed[0]["detail"].get("error") if failed and isinstance(failed[0]["detail"], dict) else None
    assert journal_ref.server_error is not None
    if error is None or journal_ref.server_error not in error:
        problems.append(f"failed event error {error!r} does not hold the server's {journal_ref.server_error!r}")
    if base(path) in JOURNALED:
        problems += row_problems("history", journal_ref.history, obs.history)
        row = next((r for r in obs.history if r["version"] == "1"), None)
        file_name = f"000001_{FAILING_NAME}.up.sql"
        if row is None or row["status"] != "failed" or file_name not in (row["error"] or ""):
            problems.append(f"history: no failed row naming {file_name!r}: {row!r}")
    else:
        problems += row_problems("history", reference.history, obs.history)
    assert not problems, report(obs, problems)
