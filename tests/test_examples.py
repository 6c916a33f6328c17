"""The example projects in ``examples/`` work as their READMEs say.

Each test copies the example into ``tmp_path`` (so the repository is never
touched) and drives the real ``migrata`` command in a subprocess
(``python -m migrata -C <copy> ...``), then checks the SQLite file with its
own connection.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OWN_TABLES = {"migrata_history", "migrata_events"}


def copy_example(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(
        EXAMPLES / name,
        dest,
        ignore=shutil.ignore_patterns("*.db", "*.db-*", "*-migrata.lock", "*.backup.*", "__pycache__"),
    )
    return dest


def migrata(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MIGRATA_DATABASE_URL", "MIGRATA_ENV")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )


def query(db: Path, sql: str, *, foreign_keys: bool = False) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
        rows = conn.execute(sql).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def objects(db: Path, kind: str = "table") -> set[str]:
    rows = query(db, f"SELECT name FROM sqlite_master WHERE type = '{kind}' AND name NOT LIKE 'sqlite_%'")
    return {r[0] for r in rows}


def applied(db: Path) -> list[str]:
    rows = query(db, "SELECT version FROM migrata_history WHERE kind NOT IN ('ledger', 'repeatable') ORDER BY version")
    return [r[0] for r in rows]


# --- quickstart ---------------------------------------------------------------------------


def test_quickstart_flow(tmp_path: Path) -> None:
    proj = copy_example("quickstart", tmp_path)
    db = proj / "quickstart.db"
    assert not db.exists()

    # up: everything, the repeatable view included
    r = migrata(proj, "up")
    assert r.returncode == 0, r.stderr
    assert "Applied 4 migration(s)" in r.stdout
    assert "now at 3" in r.stdout
    assert db.exists()
    assert {"users", "posts"} <= objects(db)
    assert "user_stats" in objects(db, "view")
    assert applied(db) == ["1", "2", "3"]
    assert query(db, "SELECT email, name, post_count FROM users ORDER BY email") == [
        ("ada@example.com", "Ada", 0),
        ("linus@example.com", "Linus", 0),
    ]
    assert query(db, "SELECT COUNT(*) FROM user_stats") == [(2,)]

    # status: up to date at 3
    r = migrata(proj, "status")
    assert r.returncode == 0, r.stderr
    assert "Current:  3 seed_demo_users" in r.stdout
    assert "Applied:  3" in r.stdout
    assert "Pending:  0 (up to date)" in r.stdout

    # down --steps 1: the seed is rolled back, the schema stays
    r = migrata(proj, "down", "--steps", "1")
    assert r.returncode == 0, r.stderr
    assert "Rolled back 1 migration(s)" in r.stdout
    assert "now at 2" in r.stdout
    assert applied(db) == ["1", "2"]
    assert {"users", "posts"} <= objects(db)
    assert query(db, "SELECT COUNT(*) FROM users") == [(0,)]
    r = migrata(proj, "status")
    assert "Current:  2 create_posts" in r.stdout
    assert "Pending:  1" in r.stdout

    # up: the seed again
    r = migrata(proj, "up")
    assert r.returncode == 0, r.stderr
    assert "Applied 1 migration(s)" in r.stdout
    assert "now at 3" in r.stdout
    assert applied(db) == ["1", "2", "3"]
    assert query(db, "SELECT COUNT(*) FROM users") == [(2,)]

    # down base: the repeatable view first (it has a down part), then every
    # versioned migration, newest first: nothing of the example is left
    r = migrata(proj, "down", "base")
    assert r.returncode == 0, r.stderr
    assert "Rolled back 4 migration(s)" in r.stdout
    assert "now at base" in r.stdout
    assert applied(db) == []
    assert objects(db) & {"users", "posts"} == set()
    assert "user_stats" not in objects(db, "view")
    r = migrata(proj, "status")
    assert r.returncode == 0
    assert "base (nothing applied)" in r.stdout
    assert "Pending:  4" in r.stdout

    # the event log recorded all of it
    events = query(db, "SELECT action, version FROM migrata_events WHERE outcome = 'ok' ORDER BY id")
    assert events == [
        ("up", "1"),
        ("up", "2"),
        ("up", "3"),
        ("repeat", "R__user_stats_view"),
        ("down", "3"),
        ("up", "3"),
        ("down", "R__user_stats_view"),
        ("down", "3"),
        ("down", "2"),
        ("down", "1"),
    ]


def test_quickstart_does_not_touch_the_repository(tmp_path: Path) -> None:
    """The copy is self-contained: its relative database path resolves inside the copy."""
    proj = copy_example("quickstart", tmp_path)
    r = migrata(proj, "up", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "Would apply 4 migration(s)" in r.stdout
    assert not (proj / "quickstart.db").exists()
    assert str(EXAMPLES) not in r.stdout


# --- quota-proxy -------------------------------------------------------------------------

API_KEYS_COLUMNS = [
    # (name, type, notnull, default, pk)
    ("id", "INTEGER", 0, None, 1),
    ("key", "TEXT", 1, None, 0),
    ("name", "TEXT", 0, None, 0),
    ("quota_limit", "INTEGER", 0, "1000", 0),
    ("quota_used", "INTEGER", 0, "0", 0),
    ("created_at", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
    ("updated_at", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
    ("is_active", "BOOLEAN", 0, "1", 0),
]
USAGE_STATS_COLUMNS = [
    ("id", "INTEGER", 0, None, 1),
    ("api_key", "TEXT", 1, None, 0),
    ("endpoint", "TEXT", 1, None, 0),
    ("timestamp", "TIMESTAMP", 0, "CURRENT_TIMESTAMP", 0),
    ("response_time_ms", "INTEGER", 0, None, 0),
    ("status_code", "INTEGER", 0, None, 0),
]
INDEXES = {
    "idx_api_keys_key": ("api_keys", ["key"]),
    "idx_usage_stats_api_key": ("usage_stats", ["api_key"]),
    "idx_usage_stats_timestamp": ("usage_stats", ["timestamp"]),
}


def columns(db: Path, table: str) -> list[tuple]:
    return [tuple(row[1:]) for row in query(db, f"PRAGMA table_info({table})")]


def user_indexes(db: Path) -> dict[str, tuple[str, list[str]]]:
    out = {}
    for name, table in query(db, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"):
        out[name] = (table, [r[2] for r in query(db, f"PRAGMA index_info({name})")])
    return out


def test_quota_proxy_config_points_into_data_folder() -> None:
    text = (EXAMPLES / "quota-proxy" / "migrata.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///data/quota.db"' in text
    assert (EXAMPLES / "quota-proxy" / "data" / ".gitkeep").is_file()
    names = sorted(p.name for p in (EXAMPLES / "quota-proxy" / "migrations").iterdir())
    ups = [n for n in names if n.endswith(".up.sql")]
    downs = [n for n in names if n.endswith(".down.sql")]
    assert len(ups) == 4 and [u.replace(".up.", ".down.") for u in ups] == downs


def test_quota_proxy_dry_run_writes_nothing(tmp_path: Path) -> None:
    proj = copy_example("quota-proxy", tmp_path)
    r = migrata(proj, "up", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "Would apply 4 migration(s)" in r.stdout
    for name in ("create_api_keys", "create_usage_stats", "add_indexes", "seed_demo_keys"):
        assert name in r.stdout
    assert sorted(p.name for p in (proj / "data").iterdir()) == [".gitkeep"]


def test_quota_proxy_up_builds_the_guides_schema(tmp_path: Path) -> None:
    proj = copy_example("quota-proxy", tmp_path)
    db = proj / "data" / "quota.db"

    r = migrata(proj, "up")
    assert r.returncode == 0, r.stderr
    assert "Applied 4 migration(s)" in r.stdout and "now at 4" in r.stdout
    # the relative path resolved against migrata.toml's folder, into data/
    assert db.is_file()

    assert objects(db) == {"api_keys", "usage_stats"} | OWN_TABLES
    assert columns(db, "api_keys") == API_KEYS_COLUMNS
    assert columns(db, "usage_stats") == USAGE_STATS_COLUMNS
    assert user_indexes(db) == INDEXES
    # key is UNIQUE (SQLite's own autoindex) besides the guide's explicit index
    unique = [row for row in query(db, "PRAGMA index_list(api_keys)") if row[2] == 1]
    assert len(unique) == 1
    fks = query(db, "PRAGMA foreign_key_list(usage_stats)")
    assert [(row[2], row[3], row[4]) for row in fks] == [("api_keys", "api_key", "key")]

    # the demo keys of the data migration, with their quota limits
    assert query(db, "SELECT key, name, quota_limit, quota_used, is_active FROM api_keys ORDER BY key") == [
        ("demo-key-123", "演示密钥", 100, 0, 1),
        ("test-key-456", "测试密钥", 500, 0, 1),
    ]

    # the foreign key holds for a connection that enforces it (as migrata's does)
    query(
        db,
        "INSERT INTO usage_stats (api_key, endpoint, response_time_ms, status_code)"
        " VALUES ('demo-key-123', '/api/test', 12, 200)",
        foreign_keys=True,
    )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        query(db, "INSERT INTO usage_stats (api_key, endpoint) VALUES ('no-such-key', '/api/test')", foreign_keys=True)
    assert query(db, "SELECT COUNT(*) FROM usage_stats") == [(1,)]

    r = migrata(proj, "status")
    assert r.returncode == 0
    assert "Current:  4 seed_demo_keys" in r.stdout
    assert "Pending:  0 (up to date)" in r.stdout
    r = migrata(proj, "check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_quota_proxy_rollback(tmp_path: Path) -> None:
    proj = copy_example("quota-proxy", tmp_path)
    db = proj / "data" / "quota.db"
    assert migrata(proj, "up").returncode == 0

    # the demo keys are data: rolling back one step removes them, keeps the schema
    r = migrata(proj, "down")
    assert r.returncode == 0, r.stderr
    assert "now at 3" in r.stdout
    assert query(db, "SELECT COUNT(*) FROM api_keys") == [(0,)]
    assert set(user_indexes(db)) == set(INDEXES)

    # with usage rows for a demo key, migrata's foreign keys stop the key's removal
    assert migrata(proj, "up").returncode == 0
    query(db, "INSERT INTO usage_stats (api_key, endpoint) VALUES ('demo-key-123', '/api/test')", foreign_keys=True)
    r = migrata(proj, "down")
    assert r.returncode == 1
    assert "FOREIGN KEY" in r.stderr
    assert "000004_seed_demo_keys.down.sql" in r.stderr
    assert applied(db) == ["1", "2", "3", "4"]
    assert query(db, "SELECT COUNT(*) FROM api_keys") == [(2,)]
    query(db, "DELETE FROM usage_stats")

    # down base: nothing but migrata's own tables
    r = migrata(proj, "down", "base")
    assert r.returncode == 0, r.stderr
    assert "Rolled back 4 migration(s)" in r.stdout and "now at base" in r.stdout
    assert objects(db) == OWN_TABLES
    assert user_indexes(db) == {}
    assert applied(db) == []

    # and up again rebuilds it all
    r = migrata(proj, "up")
    assert r.returncode == 0, r.stderr
    assert "Applied 4 migration(s)" in r.stdout
    assert columns(db, "api_keys") == API_KEYS_COLUMNS
    assert user_indexes(db) == INDEXES
    assert [k for (k,) in query(db, "SELECT key FROM api_keys ORDER BY key")] == ["demo-key-123", "test-key-456"]


def test_quota_proxy_database_url_from_the_environment(tmp_path: Path) -> None:
    """The guide's DATABASE_URL=file:/.../quota.db wins over migrata.toml."""
    proj = copy_example("quota-proxy", tmp_path)
    target = tmp_path / "opt" / "data" / "quota.db"
    target.parent.mkdir(parents=True)
    env = {"DATABASE_URL": f"file:{target}"}
    r = migrata(proj, "up", env=env)
    assert r.returncode == 0, r.stderr
    assert target.is_file()
    assert not (proj / "data" / "quota.db").exists()
    assert [k for (k,) in query(target, "SELECT key FROM api_keys ORDER BY key")] == ["demo-key-123", "test-key-456"]
    r = migrata(proj, "config", env=env)
    assert "environment variable DATABASE_URL" in r.stdout


def test_quota_proxy_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    proj = copy_example("quota-proxy", tmp_path)
    shutil.rmtree(proj / "data")
    r = migrata(proj, "up")
    assert r.returncode == 6, r.stdout + r.stderr
    assert "does not exist" in r.stderr
    assert str(proj / "data") in r.stderr
    assert "Traceback" not in r.stderr
    assert not (proj / "data").exists()
