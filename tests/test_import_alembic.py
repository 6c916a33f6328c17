"""Coming from Alembic (issue 18, item 4), on every database.

An Alembic project is generated (``alembic init``'s env.py, revisions written
here) and alembic itself, through its public ``command`` API, leaves
databases at given revisions. Then:

* ``migrata import alembic DIR`` (DIR the folder of alembic.ini, or the
  script folder) writes one migration per revision in chain order, numbered
  after the files already there and named from the message, each recording
  its revision; SQL rendered by alembic's offline mode for the configured
  dialect, and a revision that reads data (``op.get_bind()``) as a Python
  migration that runs its upgrade()/downgrade() through alembic's
  ``Operations`` on migrata's connection, in migrata's transaction.
* ``migrata up`` on a database Alembic left at any revision records what
  Alembic applied (one ``adopt`` event, once) and runs only the rest: every
  database ends with the schema and data of a fresh one migrated by migrata.
* Several heads and merges are refused by name; a database at a revision no
  file records is refused; ``--dry-run`` and ``--sql`` write nothing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata
from _servers import driver_connect
from migrata.errors import ValidationError
from migrata.testing import CliResult, run_cli, schema_of, stairway
from migrata.testing.plugin import fresh_database

# SQLAlchemy's spelling of the drivers migrata uses (alembic connects through SQLAlchemy)
DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}

REVISION = '''"""{message}

Revision ID: {revision}
Revises: {down}
"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down_value}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''

# (revision, message, upgrade body, downgrade body): a small library
CHAIN = [
    (
        "1a2b3c4d5e6f",
        "create author",
        """    op.create_table(
        "author",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_index("ix_author_name", "author", ["name"], unique=True)""",
        """    op.drop_index("ix_author_name", table_name="author")
    op.drop_table("author")""",
    ),
    (
        "2b3c4d5e6f70",
        "create book",
        """    op.create_table(
        "book",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("author.id", ondelete="CASCADE"), nullable=False),
    )
    op.bulk_insert(
        sa.table("author", sa.column("id", sa.Integer), sa.column("name", sa.String)),
        [{"id": 1, "name": "Ursula"}, {"id": 2, "name": "Italo"}],
    )
    op.execute(
        "INSERT INTO book (id, title, author_id) VALUES (1, 'Earthsea', 1), (2, 'Lathe', 1), (3, 'Cities', 2)"
    )""",
        """    op.drop_table("book")
    op.execute("DELETE FROM author")""",
    ),
    (
        "3c4d5e6f7081",
        "Count books per author",
        """    op.add_column("author", sa.Column("books", sa.Integer, nullable=False, server_default="0"))
    bind = op.get_bind()
    counts = bind.execute(sa.text("SELECT author_id, COUNT(*) FROM book GROUP BY author_id")).fetchall()
    for author_id, n in counts:
        bind.execute(sa.text("UPDATE author SET books = :n WHERE id = :a"), {"n": n, "a": author_id})""",
        """    op.drop_column("author", "books")""",
    ),
    (
        "4d5e6f708192",
        "add genre",
        """    op.add_column("book", sa.Column("genre", sa.String(30), server_default="fiction"))
    op.create_index("ix_book_genre", "book", ["genre"])""",
        """    op.drop_index("ix_book_genre", table_name="book")
    op.drop_column("book", "genre")""",
    ),
]

# env.py as `alembic init` writes it, less fileConfig (it would reconfigure this process's logging)
ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""


def write_revision(versions: Path, revision: str, message: str, up: str, down: str, parent: Any) -> None:
    text = REVISION.format(
        message=message,
        revision=revision,
        down=parent if not isinstance(parent, tuple) else ", ".join(parent),
        down_value=repr(parent),
        upgrade=up,
        downgrade=down,
    )
    (versions / f"{revision}_{message.lower().replace(' ', '_')}.py").write_text(text, encoding="utf-8")


def alembic_project(root: Path, chain: list[tuple[str, str, str, str]] = CHAIN) -> Path:
    """An Alembic project: ``root/alembic.ini`` and ``root/alembic/`` (env.py, versions/)."""
    from alembic import command
    from alembic.config import Config

    root.mkdir(parents=True, exist_ok=True)
    command.init(Config(str(root / "alembic.ini"), stdout=io.StringIO()), str(root / "alembic"))
    (root / "alembic" / "env.py").write_text(ENV_PY, encoding="utf-8")
    parent = None
    for revision, message, up, down in chain:
        write_revision(root / "alembic" / "versions", revision, message, up, down, parent)
        parent = revision
    return root


def alembic_upgrade(root: Path, url: str, revision: str) -> None:
    """``alembic upgrade REVISION`` on the database at ``url``, by alembic itself."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(root / "alembic.ini"), stdout=io.StringIO())
    scheme = url.split(":", 1)[0]
    cfg.set_main_option("sqlalchemy.url", DRIVERS.get(scheme, scheme) + url[len(scheme) :])
    command.upgrade(cfg, revision)


class Db:
    """A fresh database and a migrata project folder beside it."""

    def __init__(self, dialect: str, url: str, folder: Path) -> None:
        self.dialect, self.url, self.folder = dialect, url, folder
        self.migrations = folder / "migrations"
        folder.mkdir(parents=True, exist_ok=True)

    def connect(self) -> Any:
        return driver_connect(self.dialect, self.url)

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(statement)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            cur.close()
            return rows
        finally:
            conn.close()

    def cli(self, *args: str) -> CliResult:
        return run_cli(["--url", self.url, "--migrations", str(self.migrations), *args], cwd=self.folder)

    def ok(self, *args: str) -> CliResult:
        r = self.cli(*args)
        assert r.exit_code == 0, f"migrata {' '.join(args)} -> {r.exit_code}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.output
        return r

    def history(self) -> list[str]:
        rows = self.sql("SELECT version, status FROM migrata_history WHERE kind <> 'ledger'")
        assert all(status == "applied" for _, status in rows), rows
        return sorted(v for v, _ in rows)

    def events(self, action: str) -> list[dict[str, Any]]:
        rows = self.sql(f"SELECT detail FROM migrata_events WHERE action = '{action}' ORDER BY id")
        return [json.loads(d) if d else {} for (d,) in rows]

    def schema(self) -> dict[str, Any]:
        return schema_of(self.url, exclude=["alembic_version"])


@pytest.fixture
def dbs(migrata_dialect: str, tmp_path: Path) -> Iterator[Any]:
    """``dbs(name)``: a new database of the current dialect, dropped after the test."""
    import contextlib

    with contextlib.ExitStack() as stack:

        def make(name: str) -> Db:
            url = stack.enter_context(fresh_database(migrata_dialect, directory=tmp_path / name))
            return Db(migrata_dialect, url, tmp_path / name)

        yield make


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Db]:
    """For what does not depend on the database: a SQLite one."""
    with fresh_database("sqlite", directory=tmp_path / "db") as url:
        yield Db("sqlite", url, tmp_path / "db")


def error_line(r: CliResult, code: int) -> str:
    assert r.exit_code == code, f"exit {r.exit_code}, expected {code}: {r.output}"
    assert "Traceback" not in r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def import_into(db: Db, project: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(db.ok("import", "alembic", str(project), "--json", *args).stdout)
    return data


# --- import ------------------------------------------------------------------------------------------------


def test_import_writes_one_migration_per_revision_in_chain_order(dbs: Any, tmp_path: Path) -> None:
    project = alembic_project(tmp_path / "alembic_project")
    db = dbs("fresh")
    db.migrations.mkdir()
    (db.migrations / "000007_own_table.up.sql").write_text("CREATE TABLE own_table (id INT);\n")
    (db.migrations / "000007_own_table.down.sql").write_text("DROP TABLE own_table;\n")
    data = import_into(db, project)
    assert data["dialect"] == db.dialect and data["skipped"] == []
    got = [(m["revision"], m["version"], m["kind"]) for m in data["migrations"]]
    assert got == [("1a2b3c4d5e6f", "8", "sql"), ("2b3c4d5e6f70", "9", "sql"), ("3c4d5e6f7081", "10", "py"),
                   ("4d5e6f708192", "11", "sql")]  # fmt: skip
    names = sorted(p.name for p in db.migrations.iterdir())
    assert "000008_create_author.up.sql" in names and "000010_count_books_per_author.py" in names
    up = (db.migrations / "000008_create_author.up.sql").read_text()
    assert up.startswith("-- migrata:alembic-revision 1a2b3c4d5e6f\n") and "CREATE TABLE author" in up
    python = (db.migrations / "000010_count_books_per_author.py").read_text()
    assert python.startswith("# migrata:alembic-revision 3c4d5e6f7081\n") and "op.get_bind()" in python
    assert (project / "alembic" / "versions" / "3c4d5e6f7081_count_books_per_author.py").read_text() in python
    assert "'NoneType' object has no attribute 'fetchall'" in data["migrations"][2]["reason"]
    # rendered for this dialect, bulk_insert's rows as literals
    seeded = (db.migrations / "000009_create_book.up.sql").read_text()
    assert "INSERT INTO author" in seeded and "'Ursula'" in seeded
    if db.dialect == "mysql":
        assert "AUTO_INCREMENT" in up
    # the set parses: status lists them pending, with the revision recorded on each
    source = migrata.status(db.url, migrations=str(db.migrations))
    assert [m.version for m in source.pending] == ["7", "8", "9", "10", "11"]
    # and runs: up, then every down and up again (the Python one through Operations)
    db.ok("up", "7")
    assert stairway(db.url, migrations=str(db.migrations)) == ["8", "9", "10", "11"]
    assert sorted(db.sql("SELECT name, books FROM author")) == [("Italo", 1), ("Ursula", 2)]


def test_up_takes_over_databases_alembic_left_at_any_revision(dbs: Any, tmp_path: Path) -> None:
    project = alembic_project(tmp_path / "alembic_project")
    fresh = dbs("fresh")
    import_into(fresh, project)
    fresh.ok("up")
    assert fresh.history() == ["1", "2", "3", "4"]
    assert fresh.events("adopt") == []  # nothing to take over on a fresh database
    want_schema = fresh.schema()
    want_rows = sorted(fresh.sql("SELECT id, name, books FROM author"))
    for at, (revision, *_) in enumerate(CHAIN, 1):
        db = dbs(f"at{at}")
        alembic_upgrade(project, db.url, revision)
        shutil.copytree(fresh.migrations, db.migrations)
        r = db.ok("up")
        assert db.history() == ["1", "2", "3", "4"], r.output
        events = db.events("adopt")
        assert len(events) == 1 and events[0]["tool"] == "alembic", events
        assert events[0]["added"] == [str(v) for v in range(1, at + 1)]
        assert db.schema() == want_schema, f"left at revision {at}"
        assert sorted(db.sql("SELECT id, name, books FROM author")) == want_rows
        assert db.sql("SELECT version_num FROM alembic_version") == [(revision,)]  # left as it was
        db.ok("up")  # once: a second run records nothing more
        assert len(db.events("adopt")) == 1


def test_dry_run_and_sql_on_a_database_alembic_migrated(dbs: Any, tmp_path: Path) -> None:
    project = alembic_project(tmp_path / "alembic_project")
    db = dbs("db")
    alembic_upgrade(project, db.url, CHAIN[1][0])
    import_into(db, project)
    dry = json.loads(db.ok("up", "--dry-run", "--json").stdout)
    assert [s["version"] for s in dry["planned"]] == ["3", "4"], dry
    line = error_line(db.cli("up", "--sql"), 2)
    assert "migrated by Alembic" in line
    assert "migrata adopt --from alembic" in db.cli("up", "--sql").stderr
    assert "migrata_history" not in {t for (t,) in db.sql(_tables_sql(db))}
    preview = json.loads(db.ok("adopt", "--from", "alembic", "--dry-run", "--json").stdout)
    assert preview["added"] == ["1", "2"] and preview["dry_run"]
    adopted = json.loads(db.ok("adopt", "--from", "alembic", "--json").stdout)
    assert adopted["added"] == ["1", "2"] and adopted["table"] == "alembic_version"
    assert db.history() == ["1", "2"]
    db.ok("up")
    assert db.history() == ["1", "2", "3", "4"] and len(db.events("adopt")) == 1


def _tables_sql(db: Db) -> str:
    if db.dialect == "sqlite":
        return "SELECT name FROM sqlite_master WHERE type = 'table'"
    schema = "current_schema()" if db.dialect == "postgresql" else "DATABASE()"
    return f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"


def test_a_python_revision_runs_in_migratas_transaction(dbs: Any, tmp_path: Path) -> None:
    """SQLAlchemy borrows migrata's connection: it neither commits nor rolls back.
    Where DDL is transactional, a failure after the revision's first change
    leaves nothing behind; MySQL commits DDL itself, so there only the
    history says what happened."""
    failing = (
        "5e6f708192a3",
        "add rating then fail",
        """    op.add_column("book", sa.Column("rating", sa.Integer))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM book")).scalar() > 0:
        raise RuntimeError("no ratings for existing books")""",
        """    op.drop_column("book", "rating")""",
    )
    project = alembic_project(tmp_path / "alembic_project", [*CHAIN, failing])
    db = dbs("db")
    data = import_into(db, project)
    assert data["migrations"][-1]["kind"] == "py"
    r = db.cli("up")
    assert r.exit_code == 1 and "no ratings for existing books" in r.stderr, r.output
    assert "000005_add_rating_then_fail.py:" in r.stderr  # the line of the revision's code in the migration
    assert "Traceback" not in r.output
    columns = [c[0] for c in db.sql(_columns_sql(db, "book"))]
    if db.dialect == "mysql":
        return
    assert "rating" not in columns, columns  # rolled back with migrata's transaction
    assert db.history() == ["1", "2", "3", "4"]


def _columns_sql(db: Db, table: str) -> str:
    if db.dialect == "sqlite":
        return f"SELECT name FROM pragma_table_info('{table}')"
    schema = "current_schema()" if db.dialect == "postgresql" else "DATABASE()"
    return (
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = {schema} AND table_name = '{table}'"
    )


# --- what cannot be imported or taken over -----------------------------------------------------------------


def test_several_heads_and_merges_are_refused_by_name(sqlite_db: Db, tmp_path: Path) -> None:
    db = sqlite_db
    project = alembic_project(tmp_path / "branched", CHAIN[:2])
    versions = project / "alembic" / "versions"
    write_revision(versions, "aaaa11112222", "branch one", "    pass", "    pass", "2b3c4d5e6f70")
    write_revision(versions, "bbbb33334444", "branch two", "    pass", "    pass", "2b3c4d5e6f70")
    line = error_line(db.cli("import", "alembic", str(project)), 3)
    assert "2 heads" in line and "aaaa11112222" in line and "bbbb33334444" in line
    with pytest.raises(ValidationError, match="2 heads"):
        migrata.import_alembic(db.url, versions.parent, migrations=str(db.migrations))
    write_revision(versions, "cccc55556666", "merge", "    pass", "    pass", ("aaaa11112222", "bbbb33334444"))
    line = error_line(db.cli("import", "alembic", str(project)), 3)
    assert "cccc55556666 merges 2 branches" in line and "aaaa11112222" in line
    assert not db.migrations.exists() or not any(db.migrations.iterdir())
    line = error_line(db.cli("import", "alembic", str(tmp_path)), 2)
    assert "not an Alembic project" in line


def test_a_second_import_adds_only_new_revisions(sqlite_db: Db, tmp_path: Path) -> None:
    """DIR may also be the script folder (env.py, versions/); a revision that
    changes nothing is a no-op migration, not an empty file."""
    project = alembic_project(tmp_path / "alembic_project", CHAIN[:2])
    db = sqlite_db
    first = import_into(db, project / "alembic")
    assert [m["version"] for m in first["migrations"]] == ["1", "2"]
    write_revision(project / "alembic" / "versions", "9f9f9f9f9f9f", "nothing", "    pass", "    pass", CHAIN[1][0])
    dry = import_into(db, project, "--dry-run")
    assert [m["version"] for m in dry["migrations"]] == ["3"] and dry["skipped"] == ["1a2b3c4d5e6f", "2b3c4d5e6f70"]
    assert not any(p.name.startswith("000003") for p in db.migrations.iterdir())  # dry run: nothing written
    second = import_into(db, project)
    assert [m["version"] for m in second["migrations"]] == ["3"]
    assert "nothing to import" in db.ok("import", "alembic", str(project)).stdout
    db.ok("up")
    assert db.history() == ["1", "2", "3"]
    db.ok("down")  # the no-op down
    assert db.history() == ["1", "2"]


def test_a_revision_no_file_records_is_refused(dbs: Any, tmp_path: Path) -> None:
    project = alembic_project(tmp_path / "alembic_project")
    db = dbs("db")
    alembic_upgrade(project, db.url, CHAIN[2][0])
    db.migrations.mkdir()
    for n, (revision, *_) in enumerate(CHAIN[:2], 1):  # an import that lacks the revision Alembic is at
        (db.migrations / f"00000{n}_r.up.sql").write_text(f"-- migrata:alembic-revision {revision}\nSELECT 1;\n")
    line = error_line(db.cli("up"), 3)
    assert "3c4d5e6f7081" in line and "no migration" in line
    assert "migrata import alembic" in db.cli("up").stderr
    assert "migrata_history" not in {t for (t,) in db.sql(_tables_sql(db))}


def test_status_of_an_imported_project_loads_neither_alembic_nor_sqlalchemy(sqlite_db: Db, tmp_path: Path) -> None:
    project = alembic_project(tmp_path / "alembic_project")
    db = sqlite_db
    import_into(db, project)
    probe = (
        "import sys, json\nfrom migrata.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'sqlalchemy'})))"
    )
    for command in (["status"], ["up", "--dry-run"]):
        args = ["--url", db.url, "--migrations", str(db.migrations), *command]
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    assert os.path.isdir(db.migrations)
