"""``migrata squash --to VERSION`` (issue 18, item 3), on all three databases.

A small project (tables, a foreign key, an index, a view, seed rows, a
dialect's own object) is squashed at version 2 of 3:

* a database migrated the long way before the squash and a fresh one after
  it end with the same schema and the same seed rows, both at 3;
* the long-way database keeps its history: status/validate report nothing
  missing or edited, the squash is in its event log;
* a database below the baseline is refused with the command that catches it
  up from the archive, and that command works;
* the ente set (PostgreSQL, golang-migrate) squashed at 100: a fresh database
  and one migrated the long way have identical ``pg_dump --schema-only``
  output, at 100 and after ``up`` to 124.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import run_cli, schema_of
from migrata.testing.plugin import fresh_database, skip_or_fail

DIALECTS = ["sqlite", "postgresql", "mysql"]

V1 = """CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
CREATE TABLE kind (id INTEGER PRIMARY KEY, label VARCHAR(20));
INSERT INTO kind (id, label) VALUES (1, 'it''s'), (2, NULL);
"""
V2 = """ALTER TABLE account ADD COLUMN email VARCHAR(100);
CREATE INDEX account_email ON account (email);
CREATE TABLE post (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES account (id), kind_id INTEGER);
CREATE VIEW account_emails AS SELECT id, email FROM account;
"""
# an object kind of each dialect's own, kept by the baseline
V2_EXTRA = {
    "sqlite": "CREATE TRIGGER post_kind AFTER INSERT ON post BEGIN UPDATE post SET kind_id = 1 WHERE id = NEW.id "
    "AND NEW.kind_id IS NULL; END;\n",
    "postgresql": "CREATE TYPE mood AS ENUM ('ok', 'sad');\nALTER TABLE post ADD COLUMN mood mood DEFAULT 'ok';\n"
    "CREATE FUNCTION post_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM post $$;\n",
    "mysql": "ALTER TABLE post ADD COLUMN mood ENUM('ok', 'sad') DEFAULT 'ok';\n"
    "CREATE TRIGGER post_kind BEFORE INSERT ON post FOR EACH ROW SET NEW.kind_id = COALESCE(NEW.kind_id, 1);\n",
}
V3 = "CREATE TABLE tag (id INTEGER PRIMARY KEY, post_id INTEGER REFERENCES post (id));\n"


def write_project(root: Path, dialect: str) -> Path:
    folder = root / "migrations"
    folder.mkdir(parents=True)
    (folder / "001_start.up.sql").write_text(V1)
    (folder / "001_start.down.sql").write_text("DROP TABLE kind;\nDROP TABLE account;\n")
    (folder / "002_more.up.sql").write_text(V2 + V2_EXTRA[dialect])
    (folder / "003_tags.up.sql").write_text(V3)
    return root


def cli(project: Path, url: str, *args: str, code: int = 0) -> str:
    r = run_cli(["-C", str(project), "--url", url, *args])
    assert "Traceback" not in r.output, r.output
    assert r.exit_code == code, f"migrata {' '.join(args)} exited {r.exit_code}: {r.output}"
    return r.stdout if "--json" in args else r.output


def snapshot(url: str) -> dict[str, Any]:
    """``schema_of(url)``; MySQL names the database in a view's definition, so that goes."""
    snap = schema_of(url)
    if url.startswith("mysql"):
        name = DatabaseURL.parse(url).database
        for value in snap["objects"].values():
            if isinstance(value, dict) and isinstance(value.get("sql"), str):
                value["sql"] = value["sql"].replace(f"`{name}`.", "")
    return snap


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        return [tuple(r) for r in backend.query(sql)]
    finally:
        backend.close()


@pytest.fixture
def databases(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:
        yield lambda dialect: stack.enter_context(fresh_database(dialect, directory=tmp_path))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_long_way_and_fresh_end_identical(dialect: str, tmp_path: Path, databases: Any) -> None:
    project = write_project(tmp_path / "proj", dialect)
    long_way, fresh = databases(dialect), databases(dialect)
    cli(project, long_way, "up")
    before = snapshot(long_way)

    out = json.loads(cli(project, long_way, "squash", "--to", "2", "--seed-table", "kind", "--json"))
    folder = project / "migrations"
    assert out["first"] == "1" and out["version"] == "2" and out["recorded"] is True
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["002_baseline.up.sql", "003_tags.up.sql"]
    assert sorted(p.name for p in (folder / "archive").iterdir()) == [
        "001_start.down.sql",
        "001_start.up.sql",
        "002_more.up.sql",
    ]
    baseline = (folder / "002_baseline.up.sql").read_text()
    assert baseline.startswith("-- migrata:baseline-of 1..2 archive archive\n")
    assert "migrata_history" not in baseline and "migrata_events" not in baseline

    # the long way: nothing to do, nothing missing or edited, the squash recorded
    assert "Nothing to apply" in cli(project, long_way, "up")
    cli(project, long_way, "validate")
    status = json.loads(cli(project, long_way, "status", "--json"))
    states = {m["version"]: m["state"] for m in status["migrations"]}
    assert states == {"1": "squashed", "2": "applied", "3": "applied"}, states
    assert not [p for p in status.get("problems", []) if p.get("severity") == "error"]
    events = rows(long_way, "SELECT action, version FROM migrata_events WHERE action = 'squash'")
    assert events == [("squash", "2")]
    assert snapshot(long_way) == before

    # fresh: the baseline, then 3
    cli(project, fresh, "up")
    assert snapshot(fresh) == before
    assert rows(fresh, "SELECT id, label FROM kind ORDER BY id") == [(1, "it's"), (2, None)]
    applied = rows(fresh, "SELECT version, name FROM migrata_history WHERE kind <> 'ledger' ORDER BY version")
    assert applied == [("2", "baseline"), ("3", "tags")]
    cli(project, fresh, "validate")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_database_below_the_baseline_is_told_how_to_catch_up(dialect: str, tmp_path: Path, databases: Any) -> None:
    project = write_project(tmp_path / "proj", dialect)
    behind, reference = databases(dialect), databases(dialect)
    cli(project, behind, "up", "1")
    cli(project, reference, "up")
    cli(project, behind, "squash", "--to", "2")

    out = cli(project, behind, "up", code=3)
    assert "the database is at 1, below 2 baseline" in out
    command = re.search(r"`(migrata up 2 --migrations [^`]+)`", out)
    assert command, out
    assert snapshot(behind) != snapshot(reference)  # nothing ran
    cli(project, behind, "validate", code=3)

    cli(project, behind, *command.group(1).split()[1:])  # the command the hint gives, as given
    cli(project, behind, "up")
    assert snapshot(behind) == snapshot(reference)
    status = json.loads(cli(project, behind, "status", "--json"))
    assert {m["version"]: m["state"] for m in status["migrations"]} == {"1": "squashed", "2": "applied", "3": "applied"}


def test_squash_refuses_what_it_cannot_do_and_changes_nothing(tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", "sqlite")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    files = sorted(p.name for p in (project / "migrations").iterdir())
    assert len(files) == 4
    assert "no migration has version 7" in cli(project, url, "squash", "--to", "7", code=2)
    (project / "migrations" / "archive").mkdir()
    (project / "migrations" / "archive" / "002_more.up.sql").write_text("-- an older archive\n")
    out = cli(project, url, "squash", "--to", "2", code=2)
    assert "already holds 002_more.up.sql" in out and "nothing was changed" in out
    assert sorted(p.name for p in (project / "migrations").iterdir() if p.is_file()) == files
    cli(project, url, "squash", "--to", "2", "--archive", str(tmp_path / "old"))
    assert "already the baseline" in cli(project, url, "squash", "--to", "2", code=2)
    # the archive elsewhere is named by its path in the marker
    marker = (project / "migrations" / "002_baseline.up.sql").read_text().splitlines()[0]
    assert marker == "-- migrata:baseline-of 1..2 archive ../../old"
    assert "no migrata history" in cli(project, url, "squash", "--to", "3")  # no database: no event


# --- the ente set at 100 -----------------------------------------------------------------------
ENTE = Path(os.environ.get("MIGRATA_CORPUS_DIR", "/work/shared/corpus")) / "ente" / "postgres"


def pg_schema(url: str) -> str:
    """``pg_dump --schema-only`` of ``url`` (its random \\restrict key left out)."""
    parsed = DatabaseURL.parse(url)
    argv = ["pg_dump", "--schema-only", "-h", parsed.host or "127.0.0.1", "-U", parsed.username or "postgres"]
    argv += ["-p", str(parsed.port or 5432), "-d", parsed.database or ""]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("\\"))


def test_ente_squashed_at_100_fresh_and_long_way_identical(tmp_path: Path, databases: Any) -> None:
    if not ENTE.is_dir():
        skip_or_fail(f"corpus folder {ENTE} not found")
    if shutil.which("pg_dump") is None:
        skip_or_fail("pg_dump is not installed")
    project = tmp_path / "ente"
    shutil.copytree(ENTE, project / "migrations")
    (project / "migrata.toml").write_text("allow_empty = true\nmixed = true\n")
    long_way, fresh = databases("postgresql"), databases("postgresql")
    cli(project, long_way, "up", "100")
    cli(project, long_way, "squash", "--to", "100")
    assert len(list((project / "migrations" / "archive").iterdir())) == 200

    cli(project, fresh, "up", "100")
    assert rows(fresh, "SELECT version FROM migrata_history WHERE kind <> 'ledger'") == [("100",)]
    assert pg_schema(fresh) == pg_schema(long_way)
    cli(project, long_way, "validate")

    cli(project, long_way, "up")
    cli(project, fresh, "up")
    for url in (long_way, fresh):
        top = rows(url, "SELECT max(CAST(version AS integer)) FROM migrata_history WHERE kind <> 'ledger'")
        assert top == [(124,)]
    assert pg_schema(fresh) == pg_schema(long_way)
