"""The PostgreSQL example projects (``examples/kratos``, ``examples/alertagent``)
work as their READMEs say, on a real server.

Each test gets a fresh database from ``migrata.testing.temporary_database``
(created and dropped on the server of ``MIGRATA_TEST_POSTGRES_URL``), copies
the example into ``tmp_path`` so the repository is never touched, and drives
the real ``migrata`` command in a subprocess with ``--url`` pointing at that
database (never at the example's own ``kratos``/``alertagent`` database).
The schema is then checked in PostgreSQL's own catalogs with psycopg.

An unreachable server skips these tests locally and fails them in CI, as the
``migrata_url`` fixture of ``migrata.testing.plugin`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

import migrata
from migrata.testing import schema_of, stairway
from migrata.testing.plugin import fresh_database, skip_or_fail

try:
    import psycopg
except ImportError as exc:
    skip_or_fail(f"psycopg is not installed: {exc}", allow_module_level=True)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OWN_TABLES = {"migrata_history", "migrata_events"}
EMPTY_SCHEMA = {"columns": {}, "objects": {}}

KRATOS_TABLES = {"users", "kms_data_keys"}
ALERTAGENT_V1_TABLES = {"rules", "alerts"}
ALERTAGENT_V2_TABLES = {
    "alert_channels",
    "channel_groups",
    "channel_templates",
    "channel_usage_stats",
    "channel_permissions",
    "alertmanager_clusters",
    "rule_distributions",
    "alert_processing_records",
    "ai_analysis_records",
    "automation_actions",
    "alert_convergence_records",
    "cluster_health_status",
}


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    with fresh_database("postgresql") as url:
        yield url


def copy_example(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def clean_environ(**extra: str) -> dict[str, str]:
    """The environment without anything that could name another database."""
    names = ("DATABASE_URL", "MIGRATA_DATABASE_URL", "MIGRATA_URL", "MIGRATA_ENV")
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("DB_")}
    env.update(extra)
    return env


def cli(
    project: Path, url: str | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m migrata -C PROJECT [--url URL] ARGS``."""
    command = [sys.executable, "-m", "migrata", "-C", str(project)]
    if url is not None:
        command += ["--url", url]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env if env is not None else clean_environ(),
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def sql(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def tables(url: str) -> set[str]:
    rows = sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r[0] for r in rows} - OWN_TABLES


def columns(url: str, table: str) -> dict[str, tuple[str, str]]:
    rows = sql(
        url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    )
    return {name: (typ, nullable) for name, typ, nullable in rows}


def indexes(url: str, table: str) -> dict[str, str]:
    rows = sql(
        url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s", (table,)
    )
    return dict(rows)


def foreign_keys(url: str) -> set[tuple[str, str, str, str]]:
    """(table, column, referenced table, ON DELETE action) for every single-column FK."""
    rows = sql(
        url,
        """
        SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, c.confdeltype
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
        """,
    )
    actions = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
    return {(t, col, ref, actions[d]) for t, col, ref, d in rows}


def leftovers(url: str) -> dict[str, set[str]]:
    """Every object in the schema that is not migrata's own, by kind."""
    kinds = {
        "table": "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
        "view": "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('v', 'm')",
        "sequence": "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'S'",
        "index": "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'migrata\\_%'",
        "function": "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
        "trigger": "SELECT tgname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND r.relnamespace = 'public'::regnamespace",
        "type": "SELECT typname FROM pg_type t WHERE typnamespace = 'public'::regnamespace "
        "AND typtype IN ('e', 'd', 'r', 'm', 'b') AND typelem = 0",
        "constraint": "SELECT c.conname FROM pg_constraint c LEFT JOIN pg_class r ON r.oid = c.conrelid "
        "WHERE c.connamespace = 'public'::regnamespace AND coalesce(r.relname, '') NOT LIKE 'migrata\\_%'",
    }
    found = {kind: {r[0] for r in sql(url, query)} for kind, query in kinds.items()}
    found["table"] -= OWN_TABLES
    found["sequence"] = {s for s in found["sequence"] if not s.startswith("migrata_")}
    return {kind: names for kind, names in found.items() if names}


def every_down_undoes_its_up(project: Path, url: str) -> list[str]:
    """stairway() with schema_of() as the snapshot: up one, down one, up again, for each migration."""
    settings = migrata.load_settings(directory=project, environ=clean_environ(), url=url)
    checked = []
    for m in migrata.status(settings).pending:
        before = schema_of(url)
        migrata.upgrade(settings, m.version)
        after = schema_of(url)
        assert after != before or m.kind == "py", f"{m.version} {m.name} changed nothing"
        migrata.downgrade(settings, steps=1)
        assert schema_of(url) == before, f"the down part of {m.version} {m.name} did not undo its up part"
        migrata.upgrade(settings, m.version)
        assert schema_of(url) == after, f"applying {m.version} {m.name} again gave another schema"
        checked.append(m.version)
    return checked


# --- kratos --------------------------------------------------------------------------------


def check_kratos_schema(url: str) -> None:
    assert tables(url) == KRATOS_TABLES

    assert columns(url, "users") == {
        "id": ("integer", "NO"),
        "username": ("character varying", "NO"),
        "password": ("character varying", "NO"),
        "email_encrypted": ("bytea", "YES"),
        "email_hash": ("character varying", "YES"),
        "phone_encrypted": ("bytea", "YES"),
        "phone_hash": ("character varying", "YES"),
        "name_encrypted": ("bytea", "YES"),
        "name_hash": ("character varying", "YES"),
        "created_at": ("timestamp without time zone", "NO"),
        "updated_at": ("timestamp without time zone", "NO"),
    }
    user_indexes = indexes(url, "users")
    assert set(user_indexes) == {
        "users_pkey",
        "users_username_key",
        "idx_users_email_hash",
        "idx_users_phone_hash",
        "idx_users_name_hash",
    }
    for field in ("email", "phone", "name"):
        assert f"ON public.users USING btree ({field}_hash)" in user_indexes[f"idx_users_{field}_hash"]
    assert sql(url, "SELECT pg_get_serial_sequence('users', 'id')") == [("public.users_id_seq",)]

    assert columns(url, "kms_data_keys") == {
        "id": ("character varying", "NO"),
        "version": ("integer", "NO"),
        "algorithm": ("character varying", "NO"),
        "encrypted_key": ("bytea", "NO"),
        "key_hash": ("character varying", "NO"),
        "status": ("character varying", "NO"),
        "created_at": ("timestamp with time zone", "NO"),
        "updated_at": ("timestamp with time zone", "NO"),
        "expires_at": ("timestamp with time zone", "YES"),
        "metadata": ("jsonb", "YES"),
    }
    key_indexes = indexes(url, "kms_data_keys")
    assert set(key_indexes) == {
        "kms_data_keys_pkey",
        "idx_kms_data_keys_version",
        "idx_kms_data_keys_status",
        "idx_kms_data_keys_created_at",
        "idx_kms_data_keys_expires_at",
        "idx_kms_data_keys_key_hash",
        "idx_kms_data_keys_version_status",
    }
    partial = key_indexes["idx_kms_data_keys_version_status"]
    assert partial.startswith("CREATE UNIQUE INDEX") and "(version, status) WHERE" in partial and "'active'" in partial
    checks = dict(
        sql(
            url,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'kms_data_keys'::regclass AND contype = 'c'",
        )
    )
    assert set(checks) == {"kms_data_keys_status_check", "kms_data_keys_algorithm_check"}
    assert "'revoked'" in checks["kms_data_keys_status_check"]
    assert "'SM4-GCM'" in checks["kms_data_keys_algorithm_check"]

    trigger = sql(
        url, "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'trigger_update_kms_data_keys_updated_at'"
    )
    assert len(trigger) == 1
    assert (
        "BEFORE UPDATE ON public.kms_data_keys FOR EACH ROW EXECUTE FUNCTION update_kms_data_keys_updated_at()"
        in trigger[0][0]
    )
    assert sql(
        url,
        "SELECT prorettype::regtype::text, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
        "WHERE proname = 'update_kms_data_keys_updated_at'",
    ) == [("trigger", "plpgsql")]
    assert sql(url, "SELECT viewname FROM pg_views WHERE schemaname = 'public'") == [("kms_key_stats",)]
    assert sql(url, "SELECT obj_description('kms_data_keys'::regclass, 'pg_class')")[0][0]


def check_kratos_behaviour(url: str) -> None:
    """The constraints, the indexes, the trigger and the view do what the guide says."""
    with psycopg.connect(url, autocommit=True) as conn:
        insert = (
            "INSERT INTO kms_data_keys (id, version, algorithm, encrypted_key, key_hash, status, "
            "created_at, updated_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        old = "2000-01-01 00:00:00+00"
        conn.execute(insert, ("k1", 1, "AES-256-GCM", b"\x01", "h1", "active", old, old, None))
        conn.execute(insert, ("k2", 1, "AES-256-GCM", b"\x02", "h2", "inactive", old, old, "2001-01-01 00:00:00+00"))
        conn.execute(insert, ("k3", 2, "SM4-GCM", b"\x03", "h3", "active", old, old, None))

        # only one active row per version
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("k4", 1, "AES-256-GCM", b"\x04", "h4", "active", old, old, None))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("k5", 3, "AES-256-GCM", b"\x05", "h5", "lost", old, old, None))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("k6", 3, "DES", b"\x06", "h6", "active", old, old, None))

        # defaults
        conn.execute("INSERT INTO kms_data_keys (id, version, encrypted_key, key_hash) VALUES ('k7', 7, '\\x07', 'h7')")
        assert conn.execute("SELECT algorithm, status FROM kms_data_keys WHERE id = 'k7'").fetchone() == (
            "AES-256-GCM",
            "active",
        )

        # the trigger moves updated_at on UPDATE, created_at stays
        conn.execute("UPDATE kms_data_keys SET status = 'revoked' WHERE id = 'k3'")
        created, updated, fresh = conn.execute(
            "SELECT created_at, updated_at, updated_at > now() - interval '1 hour' FROM kms_data_keys WHERE id = 'k3'"
        ).fetchone()
        assert created.year == 2000
        assert updated > created and fresh
        untouched = conn.execute("SELECT updated_at FROM kms_data_keys WHERE id = 'k1'").fetchone()[0]
        assert untouched.year == 2000

        # the view counts per status and algorithm, expired keys included
        rows = conn.execute(
            "SELECT status, algorithm, key_count, expired_count FROM kms_key_stats ORDER BY status, algorithm"
        ).fetchall()
        assert rows == [
            ("active", "AES-256-GCM", 2, 0),
            ("inactive", "AES-256-GCM", 1, 1),
            ("revoked", "SM4-GCM", 1, 0),
        ]

        # users: username unique, look-ups by hash use the hash index
        conn.execute(
            "INSERT INTO users (username, password, email_encrypted, email_hash) VALUES ('ada', 'x', '\\x00', %s)",
            ("a" * 64,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO users (username, password) VALUES ('ada', 'y')")
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT id FROM users WHERE email_hash = %s", ("a" * 64,)))
        assert "idx_users_email_hash" in plan


def test_kratos_db_create(tmp_path: Path, pg_url: str) -> None:
    """README step 1: `db create` creates the database, and is fine when it exists."""
    proj = copy_example("kratos", tmp_path)
    name = f"{database_name(pg_url)}_created"
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    try:
        out = ok(cli(proj, url, "db", "create"))
        assert "created" in out
        assert sql(admin, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)) == [(1,)]
        again = cli(proj, url, "db", "create")
        assert again.returncode == 0, again.stderr
        assert "exists" in again.stdout
        ok(cli(proj, url, "up"))
        assert tables(url) == KRATOS_TABLES
        ok(cli(proj, url, "db", "drop", "--force"))
        assert sql(admin, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)) == []
    finally:
        sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_kratos_up_status_down_base_up(tmp_path: Path, pg_url: str) -> None:
    """README steps 2-4: up, status, down base, and up again to the same schema."""
    proj = copy_example("kratos", tmp_path)
    empty = schema_of(pg_url)
    assert empty == EMPTY_SCHEMA

    out = ok(cli(proj, pg_url, "up"))
    assert "Applied 2 migration(s)" in out and "now at 2" in out
    check_kratos_schema(pg_url)
    first = schema_of(pg_url)

    out = ok(cli(proj, pg_url, "status"))
    assert "(postgresql)" in out
    assert "Current:  2 create_kms_data_keys" in out
    assert "Applied:  2" in out
    assert "Pending:  0 (up to date)" in out
    out = ok(cli(proj, pg_url, "info"))
    assert "init_schema" in out and "create_kms_data_keys" in out
    assert cli(proj, pg_url, "check").returncode == 0

    check_kratos_behaviour(pg_url)

    # down: only 000002 goes; the users table and its data stay
    out = ok(cli(proj, pg_url, "down"))
    assert "now at 1" in out
    assert tables(pg_url) == {"users"}
    assert leftovers(pg_url) == {
        "table": {"users"},
        "sequence": {"users_id_seq"},
        "index": {
            "users_pkey",
            "users_username_key",
            "idx_users_email_hash",
            "idx_users_phone_hash",
            "idx_users_name_hash",
        },
        "constraint": {"users_pkey", "users_username_key"},
    }
    assert sql(pg_url, "SELECT username FROM users") == [("ada",)]

    # down base: nothing of the example is left, only migrata's own tables
    out = ok(cli(proj, pg_url, "down", "base"))
    assert "now at base" in out
    assert leftovers(pg_url) == {}
    assert schema_of(pg_url) == empty
    assert {r[0] for r in sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")} == OWN_TABLES
    out = ok(cli(proj, pg_url, "status"))
    assert "Applied:  0" in out and "Pending:  2" in out

    # up again: the very same schema
    out = ok(cli(proj, pg_url, "up"))
    assert "Applied 2 migration(s)" in out
    assert schema_of(pg_url) == first
    check_kratos_schema(pg_url)


def test_kratos_every_down_undoes_its_up(tmp_path: Path, pg_url: str) -> None:
    assert every_down_undoes_its_up(copy_example("kratos", tmp_path), pg_url) == ["1", "2"]


def test_kratos_migrate_at_startup_from_python(tmp_path: Path, pg_url: str) -> None:
    """README step 5: migrata.upgrade() on start-up, from several replicas at once."""
    proj = copy_example("kratos", tmp_path)
    results: list[Any] = []
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            results.append(migrata.upgrade(proj, url=pg_url, lock_timeout="60s"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 4
    assert sorted(len(r.steps) for r in results) == [0, 0, 0, 2]
    assert {r.after for r in results} == {"2"}
    check_kratos_schema(pg_url)
    assert migrata.check(proj, url=pg_url).state == "up-to-date"
    again = migrata.upgrade(proj, url=pg_url)
    assert again.steps == [] and again.before == again.after == "2"


def test_kratos_take_over_from_golang_migrate(tmp_path: Path, pg_url: str) -> None:
    """README: a database golang-migrate already migrated is adopted, not migrated again."""
    proj = copy_example("kratos", tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name in ("000001_init_schema.up.sql", "000002_create_kms_data_keys.up.sql"):
            conn.execute((proj / "migrations" / name).read_text(encoding="utf-8"))
        conn.execute("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)")
        conn.execute("INSERT INTO schema_migrations VALUES (2, false)")
    migrated = schema_of(pg_url)

    assert cli(proj, pg_url, "check").returncode == 5
    out = ok(cli(proj, pg_url, "adopt", "--from", "golang-migrate"))
    assert "adopted from golang-migrate (schema_migrations): 2 version(s) recorded as applied: 1, 2" in out
    assert "nothing to adopt" in ok(cli(proj, pg_url, "adopt", "--from", "golang-migrate"))
    assert sql(pg_url, "SELECT version, dirty FROM schema_migrations") == [(2, False)]
    out = ok(cli(proj, pg_url, "status"))
    assert "Current:  2 create_kms_data_keys" in out and "Pending:  0" in out
    assert "Nothing to apply" in ok(cli(proj, pg_url, "up"))
    ok(cli(proj, pg_url, "down", "base"))
    assert leftovers(pg_url) == {
        "table": {"schema_migrations"},
        "index": {"schema_migrations_pkey"},
        "constraint": {"schema_migrations_pkey"},
    }
    ok(cli(proj, pg_url, "up"))
    assert schema_of(pg_url) == {
        k: {n: v for n, v in section.items() if not n.startswith(("migrata_", "sequence:migrata_"))}
        for k, section in migrated.items()
    }


def test_kratos_new_continues_the_numbering(tmp_path: Path, pg_url: str) -> None:
    proj = copy_example("kratos", tmp_path)
    out = ok(cli(proj, pg_url, "new", "add_sessions"))
    assert "000003_add_sessions.up.sql" in out and "000003_add_sessions.down.sql" in out
    assert (proj / "migrations" / "000003_add_sessions.up.sql").exists()
    # an unwritten template stops the next command before anything runs
    assert cli(proj, pg_url, "up").returncode == 3
    assert tables(pg_url) == set()


# --- alertagent ----------------------------------------------------------------------------


ALERTAGENT_FKS = {
    ("alerts", "rule_id", "rules", "SET NULL"),
    ("alert_channels", "group_id", "channel_groups", "SET NULL"),
    ("channel_groups", "parent_id", "channel_groups", "SET NULL"),
    ("channel_usage_stats", "channel_id", "alert_channels", "CASCADE"),
    ("channel_permissions", "channel_id", "alert_channels", "CASCADE"),
    ("rule_distributions", "rule_id", "rules", "CASCADE"),
    ("rule_distributions", "cluster_id", "alertmanager_clusters", "CASCADE"),
    ("alert_processing_records", "alert_id", "alerts", "CASCADE"),
    ("alert_processing_records", "cluster_id", "alertmanager_clusters", "SET NULL"),
    ("alert_processing_records", "analysis_id", "ai_analysis_records", "SET NULL"),
    ("ai_analysis_records", "alert_id", "alerts", "CASCADE"),
    ("automation_actions", "alert_id", "alerts", "CASCADE"),
    ("automation_actions", "analysis_id", "ai_analysis_records", "SET NULL"),
    ("alert_convergence_records", "representative_alert_id", "alerts", "SET NULL"),
    ("cluster_health_status", "cluster_id", "alertmanager_clusters", "CASCADE"),
    ("rules", "cluster_id", "alertmanager_clusters", "SET NULL"),
    ("rules", "channel_group_id", "channel_groups", "SET NULL"),
    ("alerts", "cluster_id", "alertmanager_clusters", "SET NULL"),
    ("alerts", "channel_id", "alert_channels", "SET NULL"),
    ("alerts", "ai_analysis_id", "ai_analysis_records", "SET NULL"),
    ("alerts", "convergence_id", "alert_convergence_records", "SET NULL"),
}
RULES_V2_COLUMNS = {
    "cluster_id": ("uuid", "YES"),
    "channel_group_id": ("uuid", "YES"),
    "priority": ("integer", "NO"),
    "tags": ("jsonb", "NO"),
    "metadata": ("jsonb", "NO"),
}
ALERTS_V2_COLUMNS = {
    "cluster_id": ("uuid", "YES"),
    "channel_id": ("uuid", "YES"),
    "processing_status": ("character varying", "NO"),
    "ai_analysis_id": ("uuid", "YES"),
    "convergence_id": ("uuid", "YES"),
}


def seed_v1(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO rules (name, expression, level) VALUES ('HighCPU', 'cpu_usage > 90', 'critical'), "
            "('DiskFull', 'disk_free < 5', 'warning')"
        )
        conn.execute(
            "INSERT INTO alerts (rule_id, name, fingerprint, level, status) VALUES "
            "(1, 'HighCPU', 'fp-1', 'critical', 'firing'), (2, 'DiskFull', 'fp-2', 'warning', 'resolved')"
        )


def check_alertagent_v2(url: str) -> None:
    assert tables(url) == ALERTAGENT_V1_TABLES | ALERTAGENT_V2_TABLES
    rules, alerts = columns(url, "rules"), columns(url, "alerts")
    assert {k: rules[k] for k in RULES_V2_COLUMNS if k in rules} == RULES_V2_COLUMNS
    assert {k: alerts[k] for k in ALERTS_V2_COLUMNS if k in alerts} == ALERTS_V2_COLUMNS
    assert foreign_keys(url) == ALERTAGENT_FKS
    # every foreign-key column has an index that starts with it
    for table, column, _, _ in ALERTAGENT_FKS:
        defs = indexes(url, table).values()
        assert any(f"({column}" in d for d in defs), f"no index on {table}.{column}"
    rule_indexes = indexes(url, "rules")
    assert "USING gin (tags)" in rule_indexes["idx_rules_tags"]
    assert "(priority DESC)" in rule_indexes["idx_rules_priority"]
    assert "WHERE" in indexes(url, "alert_convergence_records")["idx_alert_convergence_records_active_key"]
    # the default channel templates of the Python data migration
    rows = sql(url, "SELECT type, name FROM channel_templates WHERE is_default ORDER BY type")
    assert rows == [
        ("dingtalk", "default-dingtalk"),
        ("email", "default-email"),
        ("feishu", "default-feishu"),
        ("slack", "default-slack"),
        ("webhook", "default-webhook"),
        ("wechat", "default-wechat"),
    ]
    assert sql(url, "SELECT config_template ->> 'method' FROM channel_templates WHERE type = 'webhook'") == [("POST",)]


def check_alertagent_behaviour(url: str) -> None:
    """The foreign keys and constraints of v2 act as designed."""
    with psycopg.connect(url, autocommit=True) as conn:
        cluster = conn.execute(
            "INSERT INTO alertmanager_clusters (name, endpoint) VALUES ('prod-am', 'http://am:9093') RETURNING id"
        ).fetchone()[0]
        group = conn.execute("INSERT INTO channel_groups (name) VALUES ('oncall') RETURNING id").fetchone()[0]
        channel = conn.execute(
            "INSERT INTO alert_channels (name, type, config, group_id) "
            "VALUES ('ops-mail', 'email', '{}', %s) RETURNING id",
            (group,),
        ).fetchone()[0]
        conn.execute(
            "UPDATE rules SET cluster_id = %s, channel_group_id = %s, priority = 90, tags = '[\"cpu\"]' WHERE id = 1",
            (cluster, group),
        )
        conn.execute("UPDATE alerts SET cluster_id = %s, channel_id = %s WHERE id = 1", (cluster, channel))
        conn.execute("INSERT INTO rule_distributions (rule_id, cluster_id) VALUES (1, %s)", (cluster,))
        conn.execute("INSERT INTO cluster_health_status (cluster_id, status) VALUES (%s, 'healthy')", (cluster,))
        conn.execute(
            "INSERT INTO channel_usage_stats (channel_id, date, total_messages, success_messages) "
            "VALUES (%s, current_date, 3, 3)",
            (channel,),
        )
        analysis = conn.execute(
            "INSERT INTO ai_analysis_records (alert_id, confidence_score) VALUES (1, 0.9) RETURNING id"
        ).fetchone()[0]
        conn.execute("UPDATE alerts SET ai_analysis_id = %s, processing_status = 'analyzing' WHERE id = 1", (analysis,))
        assert conn.execute("SELECT count(*) FROM rules WHERE tags @> '[\"cpu\"]'").fetchone() == (1,)

        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE alerts SET processing_status = 'bogus' WHERE id = 1")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE alerts SET channel_id = gen_random_uuid() WHERE id = 1")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO channel_templates (type, name, config_template, is_default) "
                "VALUES ('email', 'other', '{}', TRUE)"
            )
        conn.execute("INSERT INTO alert_convergence_records (convergence_key) VALUES ('cpu/prod')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO alert_convergence_records (convergence_key) VALUES ('cpu/prod')")

        # deleting a cluster clears the optional links and removes what belongs to it
        conn.execute("DELETE FROM alertmanager_clusters WHERE id = %s", (cluster,))
        assert conn.execute("SELECT cluster_id, channel_group_id FROM rules WHERE id = 1").fetchone() == (None, group)
        assert conn.execute("SELECT cluster_id FROM alerts WHERE id = 1").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM rule_distributions").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM cluster_health_status").fetchone() == (0,)
        # deleting a group clears the channel's and the rule's group
        conn.execute("DELETE FROM channel_groups WHERE id = %s", (group,))
        assert conn.execute("SELECT group_id FROM alert_channels").fetchone() == (None,)
        assert conn.execute("SELECT channel_group_id FROM rules WHERE id = 1").fetchone() == (None,)
        # deleting an alert removes its analysis
        conn.execute("DELETE FROM alerts WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM ai_analysis_records").fetchone() == (0,)


def test_alertagent_v1_upgrade_rollback_and_again(tmp_path: Path, pg_url: str) -> None:
    """v1, then the v2 release over v1 data; back to v1 with the data; base; up again."""
    proj = copy_example("alertagent", tmp_path)
    empty = schema_of(pg_url)

    # v1 only
    out = ok(cli(proj, pg_url, "up", "2"))
    assert "Applied 2 migration(s)" in out and "now at 2" in out
    assert tables(pg_url) == ALERTAGENT_V1_TABLES
    assert foreign_keys(pg_url) == {("alerts", "rule_id", "rules", "SET NULL")}
    seed_v1(pg_url)
    v1 = schema_of(pg_url)
    check = cli(proj, pg_url, "check")
    assert check.returncode == 5 and "15 pending" in check.stdout

    # the v2 release, as the guide deploys it
    ok(cli(proj, pg_url, "validate"))
    out = ok(cli(proj, pg_url, "up", "--timeout", "60m"))
    assert "Applied 15 migration(s)" in out and "now at 17" in out
    check_alertagent_v2(pg_url)
    # the v1 data came along; resolved alerts need no processing
    assert sql(pg_url, "SELECT id, processing_status FROM alerts ORDER BY id") == [(1, "pending"), (2, "processed")]
    assert sql(pg_url, "SELECT name, priority, tags::text, metadata::text FROM rules ORDER BY id") == [
        ("HighCPU", 0, "[]", "{}"),
        ("DiskFull", 0, "[]", "{}"),
    ]
    out = ok(cli(proj, pg_url, "status"))
    assert "Current:  17 seed_channel_templates" in out and "Pending:  0 (up to date)" in out
    assert cli(proj, pg_url, "check").returncode == 0
    v2 = schema_of(pg_url)

    check_alertagent_behaviour(pg_url)

    # rollback to v1: the v2 tables and columns go, the v1 rows stay
    out = ok(cli(proj, pg_url, "rollback", "2"))
    assert "Rolled back 15 migration(s)" in out and "now at 2" in out
    assert schema_of(pg_url) == v1
    assert sql(pg_url, "SELECT name FROM rules ORDER BY id") == [("HighCPU",), ("DiskFull",)]
    assert sql(pg_url, "SELECT name, status FROM alerts ORDER BY id") == [("DiskFull", "resolved")]

    # back to base: nothing of the example is left
    out = ok(cli(proj, pg_url, "down", "base"))
    assert "now at base" in out
    assert leftovers(pg_url) == {}
    assert schema_of(pg_url) == empty

    # and up again: the very same schema
    out = ok(cli(proj, pg_url, "up"))
    assert "Applied 17 migration(s)" in out
    assert schema_of(pg_url) == v2
    check_alertagent_v2(pg_url)


def test_alertagent_guide_commands(tmp_path: Path, pg_url: str) -> None:
    """The README's table: the guide's -action=... as migrata commands."""
    proj = copy_example("alertagent", tmp_path)

    out = ok(cli(proj, pg_url, "--timeout", "60m", "migrate", "--log-level", "debug"))
    assert "now at 17" in out
    assert "Current:  17" in ok(cli(proj, pg_url, "status"))
    assert "OK: 17 migration(s) checked" in ok(cli(proj, pg_url, "validate"))
    info = ok(cli(proj, pg_url, "info"))
    assert "create_alertmanager_clusters" in info and "seed_channel_templates" in info
    assert "up to date at 17" in ok(cli(proj, pg_url, "check"))

    # rollback -version=v2.0.0-001 -> rollback 3 (3 stays applied)
    out = ok(cli(proj, pg_url, "rollback", "3"))
    assert "Rolled back 14 migration(s)" in out and "now at 3" in out
    assert tables(pg_url) == ALERTAGENT_V1_TABLES | {"alert_channels"}
    check = cli(proj, pg_url, "check")
    assert check.returncode == 5

    # validate -file: a pending file is tried in a rolled-back transaction
    before = schema_of(pg_url)
    out = ok(cli(proj, pg_url, "validate", "--file", str(proj / "migrations" / "000004_create_channel_groups.sql")))
    assert "Invalid" not in out
    assert schema_of(pg_url) == before
    assert "Current:  3" in ok(cli(proj, pg_url, "status"))
    ok(cli(proj, pg_url, "up"))

    # repair: nothing to repair after clean runs
    assert "Nothing to repair" in ok(cli(proj, pg_url, "repair"))
    # cleanup -keep-days=30
    assert "deleted 0 event(s) older than 30 day(s)" in ok(cli(proj, pg_url, "cleanup", "--keep-days", "30"))
    # lock-status / force-unlock
    for command in (["lock", "status"], ["lock-status"]):
        assert ok(cli(proj, pg_url, *command)).startswith("free:")
    for command in (["lock", "release", "--force"], ["force-unlock", "--force"]):
        assert "nothing to release" in ok(cli(proj, pg_url, *command))
    # the audit log saw all of it
    history = ok(cli(proj, pg_url, "history"))
    assert "cleanup" in history and "down" in history

    # generate -name=add_new_feature
    out = ok(cli(proj, pg_url, "generate", "add_silences"))
    assert "000018_add_silences.up.sql" in out and "000018_add_silences.down.sql" in out
    assert cli(proj, pg_url, "up").returncode == 3  # empty template: refused, nothing runs
    (proj / "migrations" / "000018_add_silences.up.sql").write_text(
        "CREATE TABLE silences (id BIGSERIAL PRIMARY KEY, matcher JSONB NOT NULL, ends_at TIMESTAMPTZ NOT NULL);\n",
        encoding="utf-8",
    )
    (proj / "migrations" / "000018_add_silences.down.sql").write_text("DROP TABLE silences;\n", encoding="utf-8")
    out = ok(cli(proj, pg_url, "validate", "--file", str(proj / "migrations" / "000018_add_silences.up.sql")))
    assert "Invalid" not in out
    assert "silences" not in tables(pg_url)
    assert "now at 18" in ok(cli(proj, pg_url, "up"))
    assert "silences" in tables(pg_url)


def test_alertagent_db_env_vars_and_prod_env(tmp_path: Path, pg_url: str) -> None:
    """DB_HOST, DB_PORT, DB_USER, DB_NAME fill in the url of [env.prod]; a
    DATABASE_URL in the environment does not override --env prod."""
    proj = copy_example("alertagent", tmp_path)
    parsed = urlsplit(pg_url)
    env = clean_environ(
        DB_HOST=parsed.hostname or "127.0.0.1",
        DB_PORT=str(parsed.port or 5432),
        DB_USER=unquote(parsed.username or "postgres"),
        DB_NAME=database_name(pg_url),
    )
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/not_this_one"
    config = ok(cli(proj, None, "--env", "prod", "config", env=env))
    url_line = next(line for line in config.splitlines() if line.startswith("url "))
    assert database_name(pg_url) in url_line and "migrata.toml [env.prod]" in url_line, config
    out = ok(cli(proj, None, "--env", "prod", "up", "--timeout", "60m", env=env))
    assert "now at 17" in out
    assert tables(pg_url) == ALERTAGENT_V1_TABLES | ALERTAGENT_V2_TABLES
    env.pop("DATABASE_URL")  # without --env prod, the DB_* variables win over the file's url
    out = ok(cli(proj, None, "status", env=env))
    assert database_name(pg_url) in out and "Pending:  0" in out


def test_alertagent_every_down_undoes_its_up(tmp_path: Path, pg_url: str) -> None:
    checked = every_down_undoes_its_up(copy_example("alertagent", tmp_path), pg_url)
    assert checked == [str(v) for v in range(1, 18)]


# --- migrata.testing on both examples -----------------------------------------------------


@pytest.mark.parametrize("example", ["kratos", "alertagent"])
def test_down_base_restores_the_empty_schema(example: str, tmp_path: Path, pg_url: str) -> None:
    """schema_of() before `up` and after `down base` are equal: nothing left but migrata's tables."""
    proj = copy_example(example, tmp_path)
    before = schema_of(pg_url)
    ok(cli(proj, pg_url, "up"))
    ok(cli(proj, pg_url, "down", "base"))
    assert schema_of(pg_url) == before


@pytest.mark.parametrize("example", ["kratos", "alertagent"])
def test_stairway(example: str, tmp_path: Path, pg_url: str) -> None:
    proj = copy_example(example, tmp_path)
    expected = {"kratos": ["1", "2"], "alertagent": [str(v) for v in range(1, 18)]}[example]
    assert stairway(proj, url=pg_url) == expected
