"""examples/fastapi-template (issue 18, item 5): the backend's 15 fragmented
Alembic revisions, imported, on PostgreSQL.

The example's ``migrations/`` is exactly what ``migrata import alembic
backend`` writes. Databases that Alembic itself left at revisions 5, 10 and
15 (with rows in them) are each brought by one ``migrata up`` to the schema
of a fresh database migrated by migrata alone; what Alembic applied is
recorded once, with one ``adopt`` event, and the rows survive. Squashed to
one baseline (as the guide did by hand), the same holds: a fresh database
runs only the baseline, the ones Alembic left behind it catch up from the
archive first, as migrata tells them.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrata.testing import run_cli, schema_of
from migrata.testing.plugin import fresh_database, skip_or_fail

try:
    import psycopg
except ImportError as exc:
    skip_or_fail(f"psycopg is not installed: {exc}", allow_module_level=True)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi-template"
REVISIONS = sorted((EXAMPLE / "backend" / "app" / "alembic" / "versions").glob("*.py"))
ALL = [str(v) for v in range(1, 16)]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    dest = tmp_path / "fastapi-template"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture
def databases() -> Iterator[Any]:
    import contextlib

    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_database("postgresql"))


def migrata(example: Path, url: str, *args: str) -> str:
    r = run_cli(["-C", str(example), "--url", url, *args])
    assert r.exit_code == 0 and "Traceback" not in r.output, f"migrata {' '.join(args)}: {r.output}"
    return r.stdout


def alembic_upgrade(example: Path, url: str, revision: str) -> None:
    """``alembic upgrade REVISION`` run from backend/, as the guide does."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(example / "backend" / "alembic.ini"), stdout=io.StringIO())
    cfg.attributes["configure_logger"] = False  # keep this process's logging as it is
    cfg.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg://", 1))
    cfg.set_main_option("script_location", str(example / "backend" / "app" / "alembic"))
    command.upgrade(cfg, revision)


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []


def revision_at(n: int) -> str:
    """The Alembic revision migration ``n`` records (on the first line of its up part)."""
    (up,) = [p for p in (EXAMPLE / "migrations").glob(f"{n:06d}_*") if not p.name.endswith(".down.sql")]
    return up.read_text().split("\n", 1)[0].split("migrata:alembic-revision ", 1)[1].strip()


def test_the_committed_migrations_are_what_import_writes(example: Path, tmp_path: Path) -> None:
    assert len(REVISIONS) == 15
    shutil.rmtree(example / "migrations")
    data = json.loads(
        migrata(example, "postgresql://postgres@127.0.0.1/unused", "import", "alembic", "backend", "--json")
    )
    assert [m["version"] for m in data["migrations"]] == ALL
    assert [m["kind"] for m in data["migrations"]].count("py") == 1  # update_credentials_schema reads rows
    written = {p.name: p.read_text() for p in (example / "migrations").iterdir()}
    committed = {p.name: p.read_text() for p in (EXAMPLE / "migrations").iterdir()}
    assert written == committed


def seed_at_5(url: str) -> None:
    """What the app had stored by revision 5: users, their items, nodes without owners."""
    sql(
        url,
        """INSERT INTO "user" (id, email, hashed_password, full_name, is_active, is_superuser) VALUES
                (gen_random_uuid(), 'admin@example.com', 'x', 'Admin', true, true),
                (gen_random_uuid(), 'dev@example.com', 'y', 'Dev', true, false)""",
    )
    sql(url, "INSERT INTO item (id, title, owner_id) SELECT gen_random_uuid(), 'item of ' || email, id FROM \"user\"")
    sql(url, "INSERT INTO node (id, name, ip) VALUES (gen_random_uuid(), 'runner-1', '10.0.0.1')")


def test_databases_alembic_left_at_5_10_and_15_end_like_a_fresh_one(example: Path, databases: Any) -> None:
    fresh = databases()
    migrata(example, fresh, "up")
    want = schema_of(fresh)
    assert {"user", "item", "node", "issue", "credential", "workflowlog", "credentialnodelink"} <= {
        k.split(".")[0] for k in want["columns"]
    }
    for at in (5, 10, 15):
        url = databases()
        alembic_upgrade(example, url, revision_at(at))
        if at == 5:
            seed_at_5(url)
        out = migrata(example, url, "up")
        assert schema_of(url, exclude=["alembic_version"]) == want, f"left at revision {at}: {out}"
        status = json.loads(migrata(example, url, "status", "--json"))
        assert [m["version"] for m in status["migrations"] if m["state"] == "applied"] == ALL
        adopted = [json.loads(d) for (d,) in sql(url, "SELECT detail FROM migrata_events WHERE action = 'adopt'")]
        assert len(adopted) == 1 and adopted[0]["added"] == ALL[:at], adopted
        assert sql(url, "SELECT version_num FROM alembic_version") == [(revision_at(at),)]
        if at == 5:  # the rows came along: items keep their owners, the ownerless node went to the superuser
            owners = sql(url, 'SELECT i.title, u.email FROM item i JOIN "user" u ON u.id = i.owner_id ORDER BY 1')
            assert owners == [
                ("item of admin@example.com", "admin@example.com"),
                ("item of dev@example.com", "dev@example.com"),
            ]
            assert sql(url, 'SELECT u.email FROM node n JOIN "user" u ON u.id = n.owner_id') == [("admin@example.com",)]
        migrata(example, url, "up")  # once
        assert len(sql(url, "SELECT 1 FROM migrata_events WHERE action = 'adopt'")) == 1


def test_squashed_to_one_baseline_databases_alembic_left_end_like_a_fresh_one(example: Path, databases: Any) -> None:
    """The guide's squash: the 15 revisions become one baseline (``migrata
    squash --to 15``). A fresh database runs only the baseline; databases
    Alembic left at 15 are taken over by ``up`` as before; those left at 5
    and 10 are told to catch up from the archive, and that command (then
    ``up``) brings them to the fresh database's schema, rows included."""
    reference = databases()
    migrata(example, reference, "up")  # the long way, before the squash
    want = schema_of(reference)
    squashed = json.loads(migrata(example, reference, "squash", "--to", "15", "--json"))
    assert squashed["first"] == "1" and len(squashed["archived"]) == 29  # 14 pairs and the Python one
    baseline = (example / "migrations" / "000015_baseline.up.sql").read_text()
    assert baseline.splitlines()[:2] == [
        "-- migrata:baseline-of 1..15 archive archive",
        f"-- migrata:alembic-revision {revision_at(15)}",
    ]
    assert [p.name for p in (example / "migrations").iterdir() if p.is_file()] == ["000015_baseline.up.sql"]

    fresh = databases()
    migrata(example, fresh, "up")
    assert schema_of(fresh) == want
    assert sql(fresh, "SELECT version, name FROM migrata_history WHERE kind <> 'ledger'") == [("15", "baseline")]
    assert schema_of(reference) == want and "Nothing to apply" in migrata(example, reference, "up")

    for at in (5, 10, 15):
        url = databases()
        alembic_upgrade(example, url, revision_at(at))
        if at == 5:
            seed_at_5(url)
        if at < 15:
            r = run_cli(["-C", str(example), "--url", url, "up"])
            assert r.exit_code == 3 and "Traceback" not in r.output, r.output
            assert f"at revision {revision_at(at)} (migration {at}, archived), below 15 baseline" in r.output
            catch_up = r.output.split("`migrata ", 1)[1].split("`", 1)[0].split()
            assert catch_up == ["up", "15", "--migrations", str(example / "migrations" / "archive")]
            migrata(example, url, *catch_up)
        out = migrata(example, url, "up")
        assert schema_of(url, exclude=["alembic_version"]) == want, f"left at revision {at}: {out}"
        status = json.loads(migrata(example, url, "status", "--json"))
        states = {m["version"]: m["state"] for m in status["migrations"]}
        squashed_states = {v: "squashed" for v in ALL[:14]} if at < 15 else {}
        assert states == {**squashed_states, "15": "applied"}
        migrata(example, url, "validate")
        if at == 5:
            owners = sql(url, 'SELECT i.title, u.email FROM item i JOIN "user" u ON u.id = i.owner_id ORDER BY 1')
            assert [email for _, email in owners] == ["admin@example.com", "dev@example.com"]
