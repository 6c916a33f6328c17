"""`migrata diff` on real databases: drift added by hand is reported with
its object and kind, exit 3 (0 without drift), --json, kinds that are not
compared are listed, and a replay database left by a killed run is dropped."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrata.backends.registry import create_backend
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database
from migrata.util import DatabaseURL

DIALECTS = ["sqlite", "postgresql", "mysql"]

UP = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name VARCHAR(50) NOT NULL,
    plan VARCHAR(20) DEFAULT 'free'
);
CREATE VIEW account_names AS SELECT name FROM accounts;
"""


@pytest.fixture(params=DIALECTS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    with fresh_database(request.param, directory=tmp_path) as url:
        (tmp_path / "migrations").mkdir()
        (tmp_path / "migrations" / "000001_accounts.up.sql").write_text(UP)
        (tmp_path / "migrations" / "000001_accounts.down.sql").write_text(
            "DROP VIEW account_names;\nDROP TABLE accounts;\n"
        )
        (tmp_path / "migrata.toml").write_text(f'url = "{url}"\nmigrations = "migrations"\n')
        yield tmp_path, url, request.param


def execute(url: str, *statements: str) -> None:
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        for sql in statements:
            backend.execute(sql)
        if backend.in_transaction():
            backend.commit()
    finally:
        backend.close()


def test_drift_by_hand_is_reported_with_object_and_kind(project: tuple[Path, str, str]) -> None:
    root, url, dialect = project
    assert run_cli(["up"], cwd=root).exit_code == 0
    clean = run_cli(["diff"], cwd=root)
    assert clean.exit_code == 0, clean.output
    assert "database vs migrations: no differences" in clean.stdout
    # views are not compared: listed, never silently skipped
    assert "not compared: view account_names" in clean.stdout

    default = {
        "sqlite": None,  # SQLite cannot change a default in place
        "postgresql": "ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'pro'",
        "mysql": "ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'pro'",
    }[dialect]
    execute(
        url,
        "ALTER TABLE accounts ADD COLUMN note VARCHAR(30)",
        "CREATE INDEX ix_accounts_name ON accounts (name)",
        *([default] if default else []),
    )
    drift = run_cli(["diff"], cwd=root)
    assert drift.exit_code == 3, drift.output
    assert "column accounts.note: only in database" in drift.stdout
    assert "index accounts.ix_accounts_name: only in database" in drift.stdout
    if default:
        assert "column accounts.plan: default differs" in drift.stdout
    as_json = run_cli(["diff", "--json"], cwd=root)
    assert as_json.exit_code == 3
    data = json.loads(as_json.stdout)
    assert data["drift"] is True
    found = {(d["kind"], d["object"]) for d in data["comparisons"][0]["differences"]}
    assert {("column", "accounts.note"), ("index", "accounts.ix_accounts_name")} <= found
    assert {"kind": "view", "names": ["account_names"]} in data["not_compared"]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_replay_database_left_by_a_killed_run_is_dropped(tmp_path: Path, dialect: str) -> None:
    with fresh_database(dialect, directory=tmp_path) as url:
        (tmp_path / "migrations").mkdir()
        (tmp_path / "migrations" / "000001_t.up.sql").write_text("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY);\n")
        (tmp_path / "migrata.toml").write_text(f'url = "{url}"\nmigrations = "migrations"\n')
        admin = create_backend(DatabaseURL.parse(url)).admin()
        admin.connect()
        # unique: a second copy of the suite on the same server makes its own
        stale = f"migrata_replay_{int(time.time()) - 3600}_{uuid.uuid4().hex[:8]}"
        try:
            admin.create_database(stale)
            assert run_cli(["up"], cwd=tmp_path).exit_code == 0
            assert run_cli(["diff"], cwd=tmp_path).exit_code == 0
            assert not admin.has_database(stale)
            # and the run's own replay database is gone too
            listing = {
                "postgresql": "SELECT datname FROM pg_database WHERE datname LIKE 'migrata_replay_%'",
                "mysql": "SELECT schema_name FROM information_schema.schemata "
                "WHERE schema_name LIKE 'migrata_replay_%'",
            }[dialect]
            assert stale not in {r[0] for r in admin.query(listing)}
        finally:
            if admin.has_database(stale):
                admin.drop_database(stale)
            admin.close()


def test_diff_against_models_finds_what_autogenerate_would_write(tmp_path: Path) -> None:
    with fresh_database("sqlite", directory=tmp_path) as url:
        (tmp_path / "migrations").mkdir()
        (tmp_path / "migrations" / "000001_t.up.sql").write_text("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY);\n")
        (tmp_path / "diffmodels_a1.py").write_text(
            "import sqlalchemy as sa\nmd = sa.MetaData()\n"
            "sa.Table('t', md, sa.Column('id', sa.Integer, primary_key=True), sa.Column('x', sa.Integer))\n"
        )
        (tmp_path / "migrata.toml").write_text(
            f'url = "{url}"\nmigrations = "migrations"\nmodels = "diffmodels_a1:md"\n'
        )
        assert run_cli(["up"], cwd=tmp_path).exit_code == 0
        res = run_cli(["diff"], cwd=tmp_path)
        assert res.exit_code == 3, res.output
        assert "migrations vs models: 1 difference(s)" in res.stdout
        assert "column t.x: only in models" in res.stdout
