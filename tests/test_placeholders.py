"""Placeholders, as Flyway has them.

* ``${name}`` in a migration's SQL is replaced by the value from
  ``[placeholders]`` in the config, ``MIGRATA_PLACEHOLDER_NAME`` or
  ``--placeholder name=value`` (strongest last), on every database and in
  every way a step runs (one transaction, the statement journal, ``--sql``).
* ``placeholder_prefix``/``placeholder_suffix`` change the spelling: a set
  written for Go templates (``{{ index .Options "Namespace" }}``) applies
  into schema ``auth`` unchanged.
* Replacement is on only when a placeholder is defined; checksums are taken
  over the file as written, so a changed value is not an edit.
* An unknown placeholder is refused before anything runs, naming the file,
  the line and the name (exit 3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata
from migrata._core.source import checksum, read_text
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")


def project(root: Path, url: str, settings: str = "") -> Path:
    """A project folder whose migrata.toml holds ``url`` and the TOML text ``settings``."""
    (root / "migrations").mkdir(parents=True)
    (root / "migrata.toml").write_text(f"url = '{url}'\n{settings}", encoding="utf-8")
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / "migrations" / name).write_text(text, encoding="utf-8")


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    from migrata.backends.registry import create_backend
    from migrata.util import DatabaseURL

    backend = create_backend(DatabaseURL.parse(url))
    try:
        return [tuple(r) for r in backend.query(sql)]
    finally:
        backend.close()


def cli(root: Path, *args: str) -> Any:
    return run_cli(["-C", str(root), *args])


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", directory=tmp_path) as url:
        yield url


# --- kratos-style sets run through Go templates -------------------------------------------------

GO_TEMPLATE = """placeholder_prefix = '{{ index .Options "'
placeholder_suffix = '" }}'

[placeholders]
Namespace = "auth"
"""
NS = '{{ index .Options "Namespace" }}'
GO_SET = {
    "000001_identities.up.sql": f"CREATE SCHEMA IF NOT EXISTS {NS};\n"
    f"CREATE TABLE {NS}.identities (\n    id UUID PRIMARY KEY,\n    traits JSONB NOT NULL\n);\n",
    "000001_identities.down.sql": f"DROP TABLE {NS}.identities;\nDROP SCHEMA {NS};\n",
    "000002_identity_credentials.up.sql": f"CREATE TABLE {NS}.identity_credentials (\n"
    f"    id UUID PRIMARY KEY,\n    identity_id UUID NOT NULL REFERENCES {NS}.identities (id)\n);\n",
    "000002_identity_credentials.down.sql": f"DROP TABLE {NS}.identity_credentials;\n",
    "000003_credentials_idx.up.sql": "CREATE INDEX CONCURRENTLY identity_credentials_identity_id_idx\n"
    f"    ON {NS}.identity_credentials (identity_id);\n",
    "000003_credentials_idx.down.sql": "",
    "000004_note.up.sql": "-- migrata:no-transaction\n"
    f"COMMENT ON TABLE {NS}.identities IS 'owned by {{{{ index .Options \"Namespace\" }}}}';\n",
    "000004_note.down.sql": f"COMMENT ON TABLE {NS}.identities IS NULL;\n",
}


def test_go_template_set_applies_into_schema_auth(tmp_path: Path, pg: str) -> None:
    root = project(tmp_path / "p", pg, "allow_empty = true\n" + GO_TEMPLATE)
    write(root, GO_SET)

    # --sql shows the replaced text
    script = cli(root, "up", "--sql")
    assert script.exit_code == 0, script.output
    assert "CREATE TABLE auth.identities" in script.output and "{{" not in script.output

    result = migrata.upgrade(root)
    assert [(s.version, s.mode) for s in result.steps] == [
        ("1", "transaction"),
        ("2", "transaction"),
        ("3", "journal"),
        ("4", "journal"),
    ]
    tables = query(pg, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'auth'")
    assert sorted(tables) == [("auth", "identities"), ("auth", "identity_credentials")]
    assert query(pg, "SELECT obj_description('auth.identities'::regclass)") == [("owned by auth",)]
    assert query(pg, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'auth' AND indexname LIKE 'identity_%'") == [
        (2,)
    ]

    # the checksum is the file's as written: a new value is not an edit
    sums = dict(query(pg, "SELECT version, checksum FROM migrata_history WHERE kind <> 'ledger'"))
    path = root / "migrations" / "000001_identities.up.sql"
    assert sums["1"] == checksum(read_text(path))
    other = cli(root, "--placeholder", "Namespace=auth2", "validate")
    assert other.exit_code == 0, other.output
    assert migrata.status(root, placeholders={"namespace": "auth2"}).problems == []

    down = migrata.downgrade(root, "base")
    assert [s.version for s in down.steps] == ["4", "3", "2", "1"]
    assert query(pg, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'auth'") == [(0,)]


# --- the default ${name}, on every database, in each way a step runs -----------------------------

DEFAULT_SET = {
    "1_t.up.sql": "CREATE TABLE ${table} (x INTEGER, note VARCHAR(40));\n"
    "INSERT INTO ${table} (x, note) VALUES (${first}, '${Table}:${first}');\n",
    "1_t.down.sql": "DROP TABLE ${table};\n",
    "2_more.up.sql": "-- migrata:no-transaction\nINSERT INTO ${table} (x, note) VALUES (2, '${who}');\n",
    "2_more.down.sql": "DELETE FROM ${table} WHERE x = 2;\n",
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_placeholders_replaced_from_config_env_and_flag(
    tmp_path: Path, dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_database(dialect, directory=tmp_path) as url:
        settings = '[placeholders]\ntable = "items"\nfirst = 7\nwho = "${TEAM_NAME}"\n'
        root = project(tmp_path / "p", url, settings)
        write(root, DEFAULT_SET)
        monkeypatch.setenv("TEAM_NAME", "from-config")  # a [placeholders] value may use ${VAR}
        monkeypatch.setenv("MIGRATA_PLACEHOLDER_FIRST", "1")  # the environment wins over the file
        res = cli(root, "up", "--placeholder", "who=from-flag")  # the flag wins over both
        assert res.exit_code == 0, res.output
        assert sorted(query(url, "SELECT x, note FROM items")) == [(1, "items:1"), (2, "from-flag")]

        res = cli(root, "down", "base")
        assert res.exit_code == 0, res.output
        assert "items" not in {t.lower() for (t,) in _tables(url, dialect)}


def _tables(url: str, dialect: str) -> list[tuple[Any, ...]]:
    if dialect == "sqlite":
        return query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    where = "current_schema()" if dialect == "postgresql" else "DATABASE()"
    return query(url, f"SELECT table_name FROM information_schema.tables WHERE table_schema = {where}")


def test_nothing_replaced_without_placeholders(tmp_path: Path) -> None:
    """A set holding the prefix as text runs as written when none is defined."""
    root = project(tmp_path / "p", "sqlite:///app.db")
    write(root, {"1_t.up.sql": "CREATE TABLE t (s TEXT);\nINSERT INTO t VALUES ('${not_a_placeholder}');\n"})
    assert cli(root, "up").exit_code == 0
    assert query(f"sqlite:///{root / 'app.db'}", "SELECT s FROM t") == [("${not_a_placeholder}",)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_placeholder_is_refused_naming_file_line_and_name(tmp_path: Path, dialect: str) -> None:
    with fresh_database(dialect, directory=tmp_path) as url:
        root = project(tmp_path / "p", url, '[placeholders]\ntable = "items"\n')
        write(
            root,
            {
                "1_t.up.sql": "CREATE TABLE ${table} (x INTEGER);\n",
                "2_bad.up.sql": "-- fill it\nINSERT INTO ${table} (x)\n  VALUES (${start});\n",
            },
        )
        res = cli(root, "up")
        assert res.exit_code == 3, res.output
        assert "2_bad.up.sql:3" in res.output and "unknown placeholder ${start}" in res.output
        assert "MIGRATA_PLACEHOLDER_START" in res.output and "Traceback" not in res.output
        assert "items" not in {t.lower() for (t,) in _tables(url, dialect)}, "1 ran although the run was refused"

        with pytest.raises(migrata.MigrationFileError) as caught:
            migrata.upgrade(root)
        assert (caught.value.line, caught.value.exit_code) == (3, 3)
        assert caught.value.path and caught.value.path.endswith("2_bad.up.sql")

        assert [s.version for s in migrata.upgrade(root, placeholders={"start": "5"}).steps] == ["1", "2"]
        assert query(url, "SELECT x FROM items") == [(5,)]


def test_placeholder_settings_in_config_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default prefix ``${`` is not an environment reference in the config;
    a placeholder that looks like a secret is masked in ``config --json``."""
    settings = 'placeholder_prefix = "${"\nplaceholder_suffix = "}"\n[placeholders]\nschema = "app"\n'
    root = project(tmp_path / "p", "sqlite:///app.db", settings)
    monkeypatch.setenv("MIGRATA_PLACEHOLDER_DB_PASSWORD", "s3cret-Value")
    res = cli(root, "config", "--json")
    assert res.exit_code == 0, res.output
    assert "s3cret-Value" not in res.output
    data = json.loads(res.stdout)
    shown = data.get("settings", data)
    assert shown["placeholders"] == {"schema": "app", "db_password": "***"}
    assert (shown["placeholder_prefix"], shown["placeholder_suffix"]) == ("${", "}")
    bad = cli(root, "--placeholder", "novalue", "status")
    assert bad.exit_code != 0 and "name=value" in bad.output


def test_placeholder_sources_add_up(tmp_path: Path) -> None:
    """Each source adds names; a stronger one wins for the names it gives."""
    from migrata.config import load_settings

    (tmp_path / "migrata.toml").write_text(
        '[placeholders]\nschema = "app"\nOwner = "${OWNER:-nobody}"\nlevel = 1\n'
        '[env.prod.placeholders]\nschema = "prod"\n',
        encoding="utf-8",
    )
    (tmp_path / ".env").write_text("MIGRATA_PLACEHOLDER_REGION=eu\nOTHER=${UNSET_BUT_NOT_READ}\n", encoding="utf-8")
    s = load_settings(directory=tmp_path, environ={"MIGRATA_PLACEHOLDER_LEVEL": "2"})
    assert s.placeholders == {"schema": "app", "owner": "nobody", "level": "2", "region": "eu"}
    s = load_settings(directory=tmp_path, env="prod", environ={"OWNER": "ops"}, placeholders=["level=3"])
    assert s.placeholders == {"schema": "prod", "owner": "ops", "level": "3", "region": "eu"}
    assert s.with_overrides(placeholders={"Region": "us"}).placeholders["region"] == "us"
    assert (s.placeholder_prefix, s.placeholder_suffix) == ("${", "}")
