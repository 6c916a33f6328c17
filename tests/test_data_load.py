"""migrata data load / dump on SQLite, PostgreSQL and MariaDB: idempotent
upserts keyed on the primary key or --key, batched, and dumps that load
back unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")

PEOPLE = (
    "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(80) NOT NULL UNIQUE, "
    "name VARCHAR(80), age INTEGER, active BOOLEAN, tags TEXT)"
)


class Db:
    def __init__(self, dialect: str, url: str, root: Path) -> None:
        self.dialect, self.url, self.root = dialect, url, root
        self.backend = create_backend(DatabaseURL.parse(url))
        self.backend.connect()
        self.backend.execute(PEOPLE)

    def run(self, *args: str) -> Any:
        return run_cli(["--url", self.url, "--migrations", str(self.root), *args])

    def rows(self) -> list[tuple[Any, ...]]:
        rows = self.backend.query("SELECT id, email, name, age, active, tags FROM people ORDER BY id")
        return [(r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4]), r[5]) for r in rows]

    def file(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return str(path)


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    with fresh_database(request.param, directory=tmp_path) as url:
        d = Db(request.param, url, tmp_path)
        try:
            yield d
        finally:
            d.backend.close()


RECORDS = [
    {"id": 1, "email": "ada@example.com", "name": "Ada", "age": 36, "active": True, "tags": ["math", "engines"]},
    {"id": 2, "email": "bob@example.com", "name": "Bob", "age": None, "active": False, "tags": None},
    {"id": 3, "email": "cy@example.com", "name": "Cy", "age": 51, "active": True, "tags": {"team": "ops"}},
]


def test_a_json_load_is_an_idempotent_upsert_in_batches(db: Db) -> None:
    path = db.file("people.json", json.dumps(RECORDS))
    res = db.run("data", "load", path, "--table", "people", "--batch-size", "2", "--json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["rows"], out["batches"], out["keys"]) == (3, 2, ["id"])
    first = db.rows()
    assert first == [
        (1, "ada@example.com", "Ada", 36, True, '["math", "engines"]'),
        (2, "bob@example.com", "Bob", None, False, None),
        (3, "cy@example.com", "Cy", 51, True, '{"team": "ops"}'),
    ]
    assert db.run("data", "load", path, "--table", "people").exit_code == 0
    assert db.rows() == first  # loaded twice: the same rows
    changed = [dict(RECORDS[1], name="Robert", age=40), {"id": 4, "email": "di@example.com", "name": "Di"}]
    assert db.run("data", "load", db.file("more.json", json.dumps(changed)), "--table", "people").exit_code == 0
    rows = db.rows()
    assert len(rows) == 4 and rows[1][2:4] == ("Robert", 40) and rows[3][:3] == (4, "di@example.com", "Di")


def test_jsonl_and_csv_with_a_unique_key(db: Db) -> None:
    jsonl = "\n".join(json.dumps({k: v for k, v in r.items() if k != "tags"}) for r in RECORDS) + "\n\n"
    assert db.run("data", "load", db.file("p.jsonl", jsonl), "--table", "people").exit_code == 0
    csv_text = "id,email,name,age\n2,bob@example.com,Bobby,\n3,cy@example.com,,52\n"
    res = db.run("data", "load", db.file("p.csv", csv_text), "--table", "people", "--key", "email")
    assert res.exit_code == 0, res.stderr
    assert "keyed on email" in res.stdout
    rows = db.rows()
    assert rows[1][1:4] == ("bob@example.com", "Bobby", None)  # an empty CSV field is NULL
    assert rows[2][1:4] == ("cy@example.com", None, 52)


def test_a_dump_loads_back_unchanged(db: Db, tmp_path: Path) -> None:
    assert db.run("data", "load", db.file("people.json", json.dumps(RECORDS)), "--table", "people").exit_code == 0
    before = db.rows()
    for fmt in ("json", "jsonl", "csv"):
        out = tmp_path / f"dump.{fmt}"
        res = db.run("data", "dump", "--table", "people", "--format", fmt, "--out", str(out))
        assert res.exit_code == 0, res.stderr
        db.backend.execute("DELETE FROM people")
        res = db.run("data", "load", str(out), "--table", "people")
        assert res.exit_code == 0, res.stderr
        assert db.rows() == before, fmt
    shown = db.run("data", "dump", "--table", "people", "--format", "jsonl")
    assert [json.loads(line)["email"] for line in shown.stdout.splitlines()] == [r["email"] for r in RECORDS]


@pytest.mark.parametrize(
    ("records", "args", "message"),
    [
        ([{"id": 1, "email": "a@x", "nickname": "A"}], (), "column 'nickname' of the file is not a column of people"),
        ([{"email": "a@x", "name": "A"}], (), "without the key column(s) id"),
        ("[{]", (), "invalid JSON"),
        ([{"id": 1, "email": "a@x"}], ("--table", "nobody"), "cannot read table nobody"),
    ],
)
def test_bad_input_is_one_error_line_and_nothing_loaded(
    db: Db, records: Any, args: tuple[str, ...], message: str
) -> None:
    text = records if isinstance(records, str) else json.dumps(records)
    res = db.run("data", "load", db.file("bad.json", text), *(args or ("--table", "people")))
    assert res.exit_code in (2, 6)
    assert message in res.stderr and "Traceback" not in res.stderr
    assert db.rows() == []


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quota-proxy"


def test_quota_proxy_imports_its_in_memory_data(tmp_path: Path) -> None:
    """The example's data step: the JSON dump of the service's memory loaded
    into SQLite after `up`, checked by the verify scripts; again, unchanged."""
    import shutil
    import sqlite3

    root = tmp_path / "quota-proxy"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*-migrata.lock", "backups"))

    def run(*args: str) -> Any:
        return run_cli(["-C", str(root), *args])

    def rows(sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(root / "data" / "quota.db")
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    assert run("up").exit_code == 0
    dump = "import/memory-dump.json"
    early = run("data", "load", dump, "--table", "usage_stats")  # keys first: the foreign key refuses it
    assert early.exit_code == 6 and "FOREIGN KEY" in early.stderr
    assert rows("SELECT COUNT(*) FROM usage_stats") == [(0,)]
    for _ in range(2):  # loaded twice: the same rows
        keys = run("data", "load", dump, "--table", "api_keys", "--key", "key")
        assert keys.exit_code == 0, keys.stderr
        assert "Loaded 5 row(s) into api_keys" in keys.stdout
        usage = run("data", "load", dump, "--table", "usage_stats")
        assert usage.exit_code == 0, usage.stderr
        verify = run("verify")
        assert verify.exit_code == 0, verify.stdout + verify.stderr
        assert verify.stdout.count("ok ") == 4
        assert rows("SELECT COUNT(*), SUM(quota_used), SUM(is_active) FROM api_keys") == [(5, 10, 4)]
        assert rows("SELECT COUNT(*) FROM usage_stats") == [(10,)]
    assert rows("SELECT name, quota_limit, quota_used FROM api_keys WHERE key = 'demo-key-123'") == [
        ("演示密钥", 100, 4)
    ]
    # a usage row of an unknown key, let in by a connection without foreign keys, fails the check
    conn = sqlite3.connect(root / "data" / "quota.db")
    conn.execute("INSERT INTO usage_stats (api_key, endpoint) VALUES ('no-such-key', '/v1/models')")
    conn.commit()
    conn.close()
    assert run("verify").exit_code == 9
