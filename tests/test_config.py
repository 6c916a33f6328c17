"""Settings resolution: files, .env, environment, flags, environments, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrata.config import load_settings
from migrata.errors import ConfigError
from migrata.util import DatabaseURL, mask_url


def toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_config(tmp_path: Path) -> None:
    s = load_settings(directory=tmp_path, environ={})
    assert s.url is None and s.config_file is None
    assert s.migrations == tmp_path / "migrations"
    assert (s.table, s.events_table, s.versions, s.lock_timeout, s.out_of_order) == (
        "migrata_history",
        "migrata_events",
        "sequential",
        60.0,
        "refuse",
    )
    with pytest.raises(ConfigError, match="no database URL"):
        s.database_url()


def test_config_file_found_upward_and_paths_relative_to_it(tmp_path: Path) -> None:
    toml(tmp_path / "migrata.toml", 'url = "sqlite:///app.db"\nmigrations = "db/migrations"\ntable = "hist"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    s = load_settings(directory=deep, environ={})
    assert s.config_file == tmp_path / "migrata.toml"
    assert s.migrations == tmp_path / "db" / "migrations"
    assert s.database_url().database == str(tmp_path / "app.db")
    assert s.events_table == "hist_events"
    assert s.origins["url"] == "migrata.toml"


def test_pyproject_tool_section(tmp_path: Path) -> None:
    toml(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.migrata]\nurl = "sqlite:///p.db"\nlock_timeout = "5s"\n',
    )
    s = load_settings(directory=tmp_path, environ={})
    assert s.url == "sqlite:///p.db" and s.lock_timeout == 5.0


def test_pyproject_without_section_is_skipped(tmp_path: Path) -> None:
    toml(tmp_path / "migrata.toml", 'url = "sqlite:///outer.db"\n')
    toml(tmp_path / "inner" / "pyproject.toml", '[project]\nname = "x"\n')
    s = load_settings(directory=tmp_path / "inner", environ={})
    assert s.url == "sqlite:///outer.db"


def test_precedence_flags_env_dotenv_file(tmp_path: Path) -> None:
    toml(tmp_path / "migrata.toml", 'url = "sqlite:///file.db"\ntable = "from_file"\nlock_timeout = 1\n')
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///dotenv.db\nMIGRATA_TABLE=from_dotenv\n")
    s = load_settings(directory=tmp_path, environ={})
    assert (s.url, s.table, s.lock_timeout) == ("sqlite:///dotenv.db", "from_dotenv", 1.0)
    assert s.origins["url"] == ".env DATABASE_URL"
    s = load_settings(directory=tmp_path, environ={"MIGRATA_DATABASE_URL": "sqlite:///env.db"})
    assert s.url == "sqlite:///env.db" and s.table == "from_dotenv"
    s = load_settings(directory=tmp_path, environ={"MIGRATA_DATABASE_URL": "sqlite:///env.db"}, url="sqlite:///flag.db")
    assert s.url == "sqlite:///flag.db" and s.origins["url"] == "--url"


def test_migrata_url_beats_database_url_beats_db_vars(tmp_path: Path) -> None:
    env = {"DB_HOST": "h", "DB_NAME": "n", "DATABASE_URL": "sqlite:///d.db", "MIGRATA_DATABASE_URL": "sqlite:///m.db"}
    assert load_settings(directory=tmp_path, environ=env).url == "sqlite:///m.db"
    env.pop("MIGRATA_DATABASE_URL")
    assert load_settings(directory=tmp_path, environ=env).url == "sqlite:///d.db"


def test_db_variables_build_a_url_with_quoted_password(tmp_path: Path) -> None:
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "5432",
        "DB_USER": "alert",
        "DB_PASSWORD": "p@ss/w:rd",
        "DB_NAME": "alert_agent",
    }
    s = load_settings(directory=tmp_path, environ=env)
    url = s.database_url()
    assert (url.family, url.host, url.port, url.username, url.password, url.database) == (
        "postgresql",
        "db.internal",
        5432,
        "alert",
        "p@ss/w:rd",
        "alert_agent",
    )
    assert "p@ss" not in s.masked_url and "***" in s.masked_url
    env["DB_DRIVER"] = "mysql"
    assert load_settings(directory=tmp_path, environ=env).database_url().family == "mysql"
    env["DB_DRIVER"] = "oracle"
    with pytest.raises(ConfigError, match="DB_DRIVER"):
        load_settings(directory=tmp_path, environ=env)


def test_named_environments(tmp_path: Path) -> None:
    toml(
        tmp_path / "migrata.toml",
        'url = "sqlite:///dev.db"\n[env.prod]\nurl = "sqlite:///prod.db"\nlock_timeout = "2m"\n',
    )
    assert load_settings(directory=tmp_path, environ={}).url == "sqlite:///dev.db"
    s = load_settings(directory=tmp_path, env="prod", environ={})
    assert (s.url, s.lock_timeout, s.env) == ("sqlite:///prod.db", 120.0, "prod")
    assert s.origins["url"] == "migrata.toml [env.prod]"
    assert load_settings(directory=tmp_path, environ={"MIGRATA_ENV": "prod"}).url == "sqlite:///prod.db"
    with pytest.raises(ConfigError, match=r"environment 'prd' is not defined .*defined: prod"):
        load_settings(directory=tmp_path, env="prd", environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('tabel = "x"\n', r"unknown setting 'tabel' in migrata.toml \(did you mean 'table'\?\)"),
        ('lock_timeout = "soon"\n', r"setting lock_timeout = 'soon' \(migrata.toml\): not a duration"),
        ('versions = "random"\n', "versions .* must be 'sequential' or 'timestamp'"),
        ('table = "drop table; x"\n', "table .* plain table name"),
        ('out_of_order = "maybe"\n', "out_of_order"),
        ("url = \n", "not valid TOML"),
        ('[env.prod]\ntabel = "x"\n', r"unknown setting 'tabel' in migrata.toml \[env.prod\]"),
    ],
)
def test_bad_settings_name_the_setting_and_where(tmp_path: Path, text: str, message: str) -> None:
    toml(tmp_path / "migrata.toml", text)
    with pytest.raises(ConfigError, match=message):
        load_settings(directory=tmp_path, env="prod" if "env.prod" in text else None, environ={})


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MIGRATA_LOCK_TIMEOUT"):
        load_settings(directory=tmp_path, environ={"MIGRATA_LOCK_TIMEOUT": "x"})


def test_explicit_config_file_and_missing_one(tmp_path: Path) -> None:
    cfg = toml(tmp_path / "conf" / "other.toml", 'url = "sqlite:///o.db"\n')
    s = load_settings(cfg, environ={})
    assert s.url == "sqlite:///o.db" and s.project_dir == cfg.parent
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///rel.db", "BASE/rel.db"),
        ("sqlite:////abs/x.db", "/abs/x.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("file:/opt/quota.db", "/opt/quota.db"),
        ("file:data/quota.db", "BASE/data/quota.db"),
    ],
)
def test_sqlite_urls(tmp_path: Path, url: str, expected: str) -> None:
    parsed = DatabaseURL.parse(url, tmp_path)
    assert parsed.family == "sqlite"
    assert parsed.database == expected.replace("BASE", str(tmp_path))


def test_server_urls_and_masking() -> None:
    u = DatabaseURL.parse("postgresql+psycopg://app:s3cr%40t@db:6543/app?sslmode=require")
    assert (u.family, u.username, u.password, u.host, u.port, u.database, u.query) == (
        "postgresql",
        "app",
        "s3cr@t",
        "db",
        6543,
        "app",
        {"sslmode": "require"},
    )
    assert "s3cr" not in repr(u) and "s3cr" not in u.masked()
    assert mask_url("see mysql://root:hunter2@h/db and postgres://u:p@x/y") == (
        "see mysql://root:***@h/db and postgres://u:***@x/y"
    )
    # without a scheme, a password option is still masked; a line with neither is left as it is
    assert mask_url("options ?sslmode=require&password=hunter2") == "options ?sslmode=require&password=***"
    assert mask_url("applied 1 init (3 ms)") == "applied 1 init (3 ms)"
    with pytest.raises(ConfigError, match="no scheme"):
        DatabaseURL.parse("app.db")
    with pytest.raises(ConfigError, match="bad port"):
        DatabaseURL.parse("mysql://h:notaport/x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@127.0.0.1:3306/app", True),
        ("mysql://root@localhost/app", True),
        ("mysql://root@db.internal/app", None),  # PyMySQL's default: TLS when the server offers it
        ("mysql://root@127.0.0.1/app?ssl=true", False),
        ("mysql://root@db.internal/app?ssl=false", True),
        ("mysql://root@127.0.0.1/app?ssl_ca=/ca.pem", None),
    ],
)
def test_mysql_tls_is_left_out_on_loopback_only(url: str, expected: bool | None) -> None:
    from migrata.backends.registry import create_backend

    kwargs = create_backend(DatabaseURL.parse(url))._connect_kwargs("app")  # type: ignore[attr-defined]
    assert kwargs.get("ssl_disabled") is expected
    assert ("ssl" in kwargs) == ("ssl_ca" in url)
