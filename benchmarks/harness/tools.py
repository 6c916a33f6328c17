"""What each tool (and each floor) runs for each operation.

Operations:

* ``apply``: all N migrations on a fresh, empty database;
* ``status``: the tool's status command with all N applied;
* ``check``: the tool's "anything pending?" command with all N applied;
* ``apply1``: one new migration (N + 1) on top of N applied;
* ``rollback``: every migration (N + 1 of them) rolled back, by migrata
  and the client floors only: the peers' rollbacks were 40 % of a run's
  measured time (dbmate's is one process per migration) and no target
  needs them;
* ``library``: migrata's ``migrata.upgrade()`` in a fresh ``python -c``
  (and on SQLite the same through Python's sqlite3 module, the in-process
  floor);
* ``start``: the start floors, run with the interpreter that runs migrata:
  ``python -c pass`` everywhere, and on PostgreSQL ``python -c 'import
  psycopg'`` (the driver's import, most of what any Python tool pays there
  before it can ask the server anything).

Every tool runs one transaction per migration (Alembic with
``transaction_per_migration=True``; yoyo, dbmate and migrata do it by
default), like floor (b).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .peers import Peers
from .servers import Database
from .workload import Workload

OPS = ("start", "apply", "status", "check", "apply1", "rollback", "library")
#: the cycle migrata runs on one fresh database, in this order
CYCLE = ("apply", "status", "check", "apply1", "rollback")
#: the peers' cycle: the same without the rollback
PEER_CYCLE = CYCLE[:-1]

LIBRARY_CODE = """\
import json, sys, time
t0 = time.perf_counter()
import migrata
t1 = time.perf_counter()
result = migrata.upgrade(sys.argv[1], migrations=sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "call": t2 - t1, "steps": len(result.steps)}))
"""

PYSQLITE_FLOOR_CODE = """\
import json, os, sqlite3, sys, time
t0 = time.perf_counter()
folder = sys.argv[2]
files = sorted(f for f in os.listdir(folder) if f.endswith(".up.sql"))
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute(sys.argv[3])
for name in files:
    with open(os.path.join(folder, name), encoding="utf-8") as fh:
        sql = fh.read()
    record = "INSERT INTO floor_history (version) VALUES ('" + name.split("_", 1)[0] + "');\\n"
    conn.executescript("BEGIN;\\n" + sql + record + "COMMIT;\\n")
conn.close()
t1 = time.perf_counter()
print(json.dumps({"call": t1 - t0, "steps": len(files)}))
"""

Checker = Callable[[str, int], str | None]


@dataclass
class Invocation:
    """One process to run; ``check(stdout, n)`` returns an error or None."""

    cmd: list[str]
    stdin: Path | None = None
    ok_codes: tuple[int, ...] = (0,)
    check: Checker | None = None
    env: dict[str, str] = field(default_factory=dict)
    reports_call: bool = False


def _expect(pattern: str) -> Checker:
    def check(out: str, n: int) -> str | None:
        return None if re.search(pattern.format(n=n), out, re.M) else f"output does not match {pattern.format(n=n)!r}"

    return check


def _yoyo_list(out: str, n: int) -> str | None:
    applied = len(re.findall(r"^A\s", out, re.M))
    pending = len(re.findall(r"^U\s", out, re.M))
    return None if applied == n and pending == 0 else f"yoyo list shows {applied} applied, {pending} pending"


def _library(out: str, n: int) -> str | None:
    try:
        steps = json.loads(out.strip().splitlines()[-1])["steps"]
    except (ValueError, KeyError, IndexError):
        return "no result line"
    return None if steps == n else f"{steps} steps, not {n}"


class Tool:
    name = ""
    label = ""
    kind = "peer"  # migrata | peer | floor
    ops: tuple[str, ...] = ()
    dialects: tuple[str, ...] = ("sqlite", "postgresql", "mysql")
    files = ""  # the workload folder it uses
    needs_db = True  # False: a start floor, run without a database

    def __init__(self, peers: Peers | None, python: Path) -> None:
        self.peers = peers
        self.python = python

    def problem(self) -> str | None:
        """None when the tool can run here, else why not."""
        return None

    def prepare(self, w: Workload, db: Database) -> None:
        """Per fresh database (e.g. a config file holding its URL)."""

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        raise NotImplementedError


class Migrata(Tool):
    name, label, kind, files = "migrata", "migrata", "migrata", "migrata"
    ops = CYCLE

    def exe(self) -> list[str]:
        script = self.python.parent / "migrata"
        return [str(script)] if script.exists() else [str(self.python), "-m", "migrata"]

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        base = [*self.exe(), "--url", db.url("migrata"), "--migrations", str(w.migrations("migrata"))]
        return [
            {
                "apply": Invocation([*base, "up", "-q"]),
                "status": Invocation([*base, "status"], check=_expect(r"\b{n}\b")),
                "check": Invocation([*base, "check"]),
                "apply1": Invocation([*base, "up", "-q"]),
                "rollback": Invocation([*base, "down", "base", "-q"]),
            }[op]
        ]


class MigrataLibrary(Tool):
    name, label, kind, files = "migrata-lib", "migrata.upgrade() in-process", "migrata", "migrata"
    ops = ("library",)

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        cmd = [str(self.python), "-c", LIBRARY_CODE, db.url("migrata"), str(w.migrations("migrata"))]
        return [Invocation(cmd, check=_library, reports_call=True)]


class Alembic(Tool):
    name, label, files = "alembic", "Alembic", "alembic"
    ops = PEER_CYCLE

    def problem(self) -> str | None:
        return None if self.peers and self.peers.bin("alembic").exists() else "alembic is not installed"

    def prepare(self, w: Workload, db: Database) -> None:
        url = db.url("alembic").replace("%", "%%")
        ini = f"[alembic]\nscript_location = %(here)s\npath_separator = os\nsqlalchemy.url = {url}\n"
        (w.dir("alembic") / "alembic.ini").write_text(ini, encoding="utf-8")

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        assert self.peers is not None
        base = [str(self.peers.bin("alembic")), "-c", str(w.dir("alembic") / "alembic.ini")]
        return [
            {
                "apply": Invocation([*base, "upgrade", "head"]),
                "status": Invocation([*base, "current"], check=_expect(r"\(head\)")),
                "check": Invocation([*base, "current", "--check-heads"], check=_expect(r"\(head\)")),
                "apply1": Invocation([*base, "upgrade", "head"]),
            }[op]
        ]


class Yoyo(Tool):
    name, label, files = "yoyo", "yoyo", "yoyo"
    ops = PEER_CYCLE

    def problem(self) -> str | None:
        return None if self.peers and self.peers.bin("yoyo").exists() else "yoyo-migrations is not installed"

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        assert self.peers is not None
        exe = str(self.peers.bin("yoyo"))
        tail = ["--no-config-file", "-d", db.url("yoyo"), str(w.migrations("yoyo"))]
        return [
            {
                "apply": Invocation([exe, "apply", "--batch", *tail]),
                "status": Invocation([exe, "list", *tail], check=_yoyo_list),
                "check": Invocation([exe, "list", *tail], check=_yoyo_list),
                "apply1": Invocation([exe, "apply", "--batch", *tail]),
            }[op]
        ]


class Dbmate(Tool):
    name, label, files = "dbmate", "dbmate", "dbmate"
    ops = PEER_CYCLE

    def problem(self) -> str | None:
        if self.peers is None or self.peers.dbmate is None:
            return "dbmate is not installed (npm)"
        return None

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        assert self.peers is not None and self.peers.dbmate is not None
        base = [str(self.peers.dbmate), "--url", db.url("dbmate"), "--migrations-dir", str(w.migrations("dbmate"))]
        base.append("--no-dump-schema")
        return [
            {
                "apply": Invocation([*base, "migrate"]),
                "status": Invocation([*base, "status"], check=_expect(r"^Pending: 0$")),
                "check": Invocation([*base, "status", "--exit-code"], check=_expect(r"^Pending: 0$")),
                "apply1": Invocation([*base, "migrate"]),
            }[op]
        ]


class ClientFloor(Tool):
    """The database's own client running the same SQL from one file."""

    kind, files = "floor", "floor"
    ops = ("apply", "apply1", "rollback")
    variant = "a"

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        name = {"apply": "up", "apply1": "up1", "rollback": "down"}[op]
        cmd, stdin = db.client(w.floor(f"{self.variant}_{name}.sql"))
        return [Invocation(cmd, stdin=stdin)]


class ClientOneTransaction(ClientFloor):
    name, label, variant = "client-a", "floor (a): client, one transaction", "a"


class ClientPerMigration(ClientFloor):
    name, label, variant = "client-b", "floor (b): client, txn per migration + history row", "b"


class PythonStart(Tool):
    name, label, kind = "python", "floor: python -c pass", "floor"
    ops = ("start",)
    needs_db = False
    code = "pass"

    def invocations(self, op: str, w: Workload, db: Database | None) -> list[Invocation]:
        return [Invocation([str(self.python), "-c", self.code])]


class PsycopgStart(PythonStart):
    """The start floor of a Python tool on PostgreSQL: the interpreter that runs
    migrata importing psycopg, and nothing else."""

    name, label = "psycopg", "floor: python -c 'import psycopg'"
    dialects = ("postgresql",)
    code = "import psycopg"


class PySQLiteFloor(Tool):
    name, label, kind, files = "py-sqlite3", "floor (b) via Python's sqlite3", "floor", "migrata"
    ops = ("library",)
    dialects = ("sqlite",)

    def invocations(self, op: str, w: Workload, db: Database) -> list[Invocation]:
        from .workload import HISTORY_DDL

        cmd = [str(self.python), "-c", PYSQLITE_FLOOR_CODE, str(db.path), str(w.migrations("migrata")), HISTORY_DDL]
        return [Invocation(cmd, check=_library, reports_call=True)]


TOOL_CLASSES: list[type[Tool]] = [
    PythonStart,
    PsycopgStart,
    ClientOneTransaction,
    ClientPerMigration,
    PySQLiteFloor,
    Migrata,
    MigrataLibrary,
    Alembic,
    Yoyo,
    Dbmate,
]
WORKLOAD_TOOLS = ("migrata", "alembic", "yoyo", "dbmate")


def all_tools(peers: Peers | None, python: Path | None = None) -> list[Tool]:
    return [cls(peers, python or Path(sys.executable)) for cls in TOOL_CLASSES]
