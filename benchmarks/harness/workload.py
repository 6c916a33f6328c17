"""One workload in every tool's format, and the client floors' SQL.

Migration ``i`` (version ``000001`` ...) creates table ``bench_<version>``
with an index and 10 rows; its down part drops the table. The statements
are identical on SQLite, PostgreSQL and MariaDB (``VARCHAR(100)`` so that
MariaDB can index the column), so every tool and every floor runs exactly
the same SQL; only the transaction statement of the floors differs
(``START TRANSACTION`` on MariaDB, ``BEGIN`` elsewhere).

Migration ``N + 1`` is generated aside, in ``extra/``, and moved into place
for the "apply 1 new migration on top of N" operation.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

WIDTH = 6
HISTORY = "floor_history"
HISTORY_DDL = (
    f"CREATE TABLE {HISTORY} (version VARCHAR(32) NOT NULL PRIMARY KEY, "
    "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)
PY_TOOLS = ("alembic", "yoyo")


def version(i: int) -> str:
    return f"{i:0{WIDTH}d}"


def table(i: int) -> str:
    return f"bench_{version(i)}"


def up_statements(i: int) -> list[str]:
    t = table(i)
    rows = ", ".join(f"({k}, 'row {k} of {t}', {k * i})" for k in range(1, 11))
    return [
        f"CREATE TABLE {t} (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, n INTEGER NOT NULL)",
        f"CREATE INDEX ix_{t}_name ON {t} (name)",
        f"INSERT INTO {t} (id, name, n) VALUES {rows}",
    ]


def down_statements(i: int) -> list[str]:
    return [f"DROP TABLE {table(i)}"]


def script(statements: list[str]) -> str:
    return "".join(f"{s};\n" for s in statements)


ALEMBIC_ENV = '''\
"""Alembic environment of the benchmark: one connection, a transaction per migration."""
from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''


def alembic_revision(i: int) -> str:
    down = repr(version(i - 1)) if i > 1 else "None"
    ups = "".join(f"    op.execute({s!r})\n" for s in up_statements(i))
    downs = "".join(f"    op.execute({s!r})\n" for s in down_statements(i))
    return (
        f'"""create {table(i)}"""\n'
        "from alembic import op\n\n"
        f"revision = {version(i)!r}\n"
        f"down_revision = {down}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{ups}\n\n"
        f"def downgrade():\n{downs}"
    )


def yoyo_migration(i: int) -> str:
    create, index, insert = up_statements(i)
    (drop,) = down_statements(i)
    return (
        f'"""create {table(i)}"""\n'
        "from yoyo import step\n\n"
        "steps = [\n"
        f"    step({create!r}, {drop!r}),\n"
        f"    step({index!r}),\n"
        f"    step({insert!r}),\n"
        "]\n"
    )


def dbmate_migration(i: int) -> str:
    return f"-- migrate:up\n{script(up_statements(i))}\n-- migrate:down\n{script(down_statements(i))}"


def _begin(dialect: str) -> str:
    return "START TRANSACTION;\n" if dialect == "mysql" else "BEGIN;\n"


class Workload:
    """The generated files of one (database, N): ``root/<tool>/...``."""

    def __init__(self, root: Path, n: int, dialect: str) -> None:
        self.root = root
        self.n = n
        self.dialect = dialect

    def dir(self, tool: str) -> Path:
        return self.root / tool

    def migrations(self, tool: str) -> Path:
        return self.root / tool / ("versions" if tool == "alembic" else "migrations")

    def floor(self, name: str) -> Path:
        return self.root / "floor" / name

    # --- generation -------------------------------------------------------------------
    def _files(self, tool: str, i: int) -> dict[str, str]:
        stem = f"{version(i)}_create_{table(i)}"
        if tool == "migrata":
            return {f"{stem}.up.sql": script(up_statements(i)), f"{stem}.down.sql": script(down_statements(i))}
        if tool == "alembic":
            return {f"{stem}.py": alembic_revision(i)}
        if tool == "yoyo":
            return {f"{stem}.py": yoyo_migration(i)}
        if tool == "dbmate":
            return {f"{stem}.sql": dbmate_migration(i)}
        raise ValueError(tool)

    def generate(self, tools: list[str], python: Path, env: Mapping[str, str]) -> None:
        for tool in tools:
            folder = self.migrations(tool)
            folder.mkdir(parents=True, exist_ok=True)
            (self.dir(tool) / "extra").mkdir(exist_ok=True)
            for i in range(1, self.n + 1):
                for name, text in self._files(tool, i).items():
                    (folder / name).write_text(text, encoding="utf-8")
            for name, text in self._files(tool, self.n + 1).items():
                (self.dir(tool) / "extra" / name).write_text(text, encoding="utf-8")
            if tool == "alembic":
                (self.dir(tool) / "env.py").write_text(ALEMBIC_ENV, encoding="utf-8")
        self._floors()
        self.compile([self.migrations(t) for t in tools if t in PY_TOOLS] + [self.dir("alembic")], python, env)

    @staticmethod
    def compile(paths: list[Path], python: Path, env: Mapping[str, str]) -> None:
        """Byte-compile generated Python migrations into the run's pycache, as a
        second run of the tool would find them (the tools import them)."""
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            subprocess.run(
                [str(python), "-m", "compileall", "-q", "-l", *existing], env=dict(env), check=True, capture_output=True
            )

    def _floors(self) -> None:
        n, begin = self.n, _begin(self.dialect)
        folder = self.root / "floor"
        folder.mkdir(parents=True, exist_ok=True)
        ups = [script(up_statements(i)) for i in range(1, n + 2)]
        downs = [script(down_statements(i)) for i in range(n + 1, 0, -1)]

        def record(i: int) -> str:
            return f"INSERT INTO {HISTORY} (version) VALUES ('{version(i)}');\n"

        def forget(i: int) -> str:
            return f"DELETE FROM {HISTORY} WHERE version = '{version(i)}';\n"

        files = {
            "a_up.sql": begin + "".join(ups[:n]) + "COMMIT;\n",
            "a_up1.sql": begin + ups[n] + "COMMIT;\n",
            "a_down.sql": begin + "".join(downs) + "COMMIT;\n",
            "b_up.sql": f"{HISTORY_DDL};\n"
            + "".join(begin + ups[i - 1] + record(i) + "COMMIT;\n" for i in range(1, n + 1)),
            "b_up1.sql": begin + ups[n] + record(n + 1) + "COMMIT;\n",
            "b_down.sql": "".join(begin + downs[n + 1 - i] + forget(i) + "COMMIT;\n" for i in range(n + 1, 0, -1)),
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")

    # --- migration N + 1 --------------------------------------------------------------
    def add_extra(self, tool: str, python: Path, env: Mapping[str, str]) -> None:
        moved = []
        for path in sorted((self.dir(tool) / "extra").iterdir()):
            target = self.migrations(tool) / path.name
            shutil.copy2(path, target)
            moved.append(target)
        if tool in PY_TOOLS:
            self.compile(moved, python, env)

    def remove_extra(self, tool: str) -> None:
        extra = self.dir(tool) / "extra"
        if not extra.is_dir():
            return
        for path in extra.iterdir():
            (self.migrations(tool) / path.name).unlink(missing_ok=True)
