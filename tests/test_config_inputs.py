"""Configuration a user gets wrong, and secrets (issue 16, items 3 and 4).

* A password holding ``/``, ``#``, ``?`` or ``@`` never appears in any output,
  JSON, log file, event or history row, whether written percent-encoded (it
  works, against real servers) or not (refused, saying how to encode it).
* A ``.env`` that does not parse is an error naming file and line;
  ``${VAR}`` / ``${VAR:-default}`` are expanded in settings; the DB_* set
  names its dialect or is refused; a choice made on the command line
  (``--env``, ``--url``) wins over the environment and ``.env``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from migrata.config import load_settings
from migrata.errors import ConfigError
from migrata.testing import CliResult, run_cli, server_url
from migrata.testing.plugin import fresh_database
from migrata.util import DatabaseURL, mask_url

# Every piece of the test passwords is looked for, so a password cut short at
# a special character (the old bug: "...S3cret/1..." in a "bad port" error)
# is caught too.
PIECES = ("Xk9qTe4Ru", "Wm3zRb8Lk", "Pv7tQh2Wd", "Rj2sNc6Yp", "Lh5nBf9Gt")
SPECIAL_PASSWORDS = [f"{PIECES[0]}{c}{PIECES[1]}" for c in "/#?@"] + [
    "Xk9qTe4Ru/Wm3zRb8Lk#Pv7tQh2Wd?Rj2sNc6Yp@Lh5nBf9Gt"
]


def assert_no_secret(text: str, what: str) -> None:
    found = [p for p in PIECES if p in text]
    assert not found, f"{what} shows {found} of the password:\n{mask_url(text)}"


def run(root: Path, *args: str) -> CliResult:
    return run_cli(["-C", str(root), *args])


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "1_a.up.sql").write_text("CREATE TABLE a (x INTEGER);\n", encoding="utf-8")
    (root / "migrations" / "1_a.down.sql").write_text("DROP TABLE a;\n", encoding="utf-8")
    (root / "migrata.toml").write_text('migrations = "migrations"\n', encoding="utf-8")
    return root


# --- item 3: a secret printed -------------------------------------------------------------

UNREACHABLE_COMMANDS = [
    ["up"],
    ["up", "--json"],
    ["status", "--json"],
    ["check", "--json"],
    ["history"],
    ["config"],
    ["config", "--json"],
    ["--debug", "up"],
    ["--debug", "--json", "status"],
    ["-v", "--log-format", "json", "up"],
]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
@pytest.mark.parametrize("password", SPECIAL_PASSWORDS, ids=["slash", "hash", "question", "at", "all"])
def test_unencoded_special_password_refused_and_never_shown(proj: Path, scheme: str, password: str) -> None:
    url = f"{scheme}://app:{password}@127.0.0.1:1/appdb"  # port 1: nothing listens
    log = proj / "migration.log"
    for args in UNREACHABLE_COMMANDS:
        r = run(proj, "--url", url, "--log-file", str(log), *args)
        assert_no_secret(r.stdout + r.stderr, f"migrata --url ... {' '.join(args)}")
        if args[0] != "config":
            assert r.exit_code != 0, r.output
        if args in (["up"], ["up", "--json"]) and password != f"{PIECES[0]}@{PIECES[1]}":
            assert r.exit_code == 2, r.output
            assert "special characters in a password must be percent-encoded" in r.stderr, r.stderr
            assert "%2F" in r.stderr and "S3cret%2F1" in r.stderr, r.stderr  # shows how
            assert "Traceback" not in r.stderr
    if password == f"{PIECES[0]}@{PIECES[1]}":  # read to the last "@", as urlsplit does: it connects
        one = run(proj, "--url", url, "up")
        assert one.exit_code == 6 and "127.0.0.1:1" in one.stderr, mask_url(one.output)
    assert_no_secret(log.read_text(encoding="utf-8"), "the log file")


def test_json_error_of_unencoded_password(proj: Path) -> None:
    r = run(proj, "--url", f"postgresql://app:{SPECIAL_PASSWORDS[-1]}@db/app", "up", "--json")
    data = json.loads(r.stdout)
    assert data["exit_code"] == 2 and "percent-encoded" in data["message"] and "%40" in data["hint"]
    assert_no_secret(r.stdout + r.stderr, "up --json")


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://app:Xk9qTe4Ru/Wm3zRb8Lk@db/app",
        "error: database URL 'mysql://app:Xk9qTe4Ru#Wm3zRb8Lk@db:3306/app' failed",
        '{"url":"postgresql://a@b:Xk9qTe4Ru?Wm3zRb8Lk@db/app","x":1}',
        "postgresql://app:Xk9qTe4Ru@Wm3zRb8Lk@db/app and more",
        "postgresql://app:Xk9qTe4RuWm3zRb8Lk/app",  # the host was left out: the "port" is the password
    ],
)
def test_mask_url_masks_up_to_the_last_at(text: str) -> None:
    masked = mask_url(text)
    assert_no_secret(masked, repr(masked))
    assert "***" in masked


def test_mask_url_keeps_what_is_no_secret() -> None:
    for text in ("mysql://root@127.0.0.1:3306/mysql", "postgresql://[::1]:5432/db", "sqlite:///app.db"):
        assert mask_url(text) == text
    assert mask_url('{"url": "postgresql://u:pw@h/db", "n": 1}') == '{"url": "postgresql://u:***@h/db", "n": 1}'


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    from migrata.backends.registry import create_backend

    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        return backend.query(sql)
    finally:
        backend.close()


@contextlib.contextmanager
def url_with_password(dialect: str, password: str) -> Iterator[str]:
    """A fresh database and a URL that logs in with ``password`` (percent-encoded):
    PostgreSQL's test server trusts any password; on MariaDB a user is made
    for it."""
    with fresh_database(dialect) as url:
        u = DatabaseURL.parse(url)
        user = u.username or "root"
        if dialect == "mysql":
            user = (u.database or "u")[-32:]
            hosts = ("%", "localhost", "127.0.0.1")
            admin = DatabaseURL.parse(server_url("mysql"))
            literal = password.replace("\\", "\\\\").replace("'", "\\'")
            for host in hosts:
                _query(admin.raw, f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{literal}'")
                _query(admin.raw, f"GRANT ALL ON `{u.database}`.* TO '{user}'@'{host}'")
        port = f":{u.port}" if u.port else ""
        try:
            yield f"{u.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{u.host}{port}/{u.database}"
        finally:
            if dialect == "mysql":
                for host in hosts:
                    _query(admin.raw, f"DROP USER IF EXISTS '{user}'@'{host}'")


SERVER_COMMANDS: list[tuple[list[str], int]] = [
    (["up", "--json"], 0),
    (["status"], 0),
    (["status", "--json"], 0),
    (["info"], 0),
    (["history"], 0),
    (["history", "--json"], 0),
    (["config"], 0),
    (["config", "--json"], 0),
    (["lock", "status"], 0),
    (["validate"], 0),
    (["check", "--json"], 0),
    (["-v", "--log-format", "json", "down", "--json"], 0),
    (["--debug", "-v", "up"], 0),
]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_encoded_special_password_works_and_is_never_shown(proj: Path, dialect: str) -> None:
    """Real commands against a server that logs in with a password holding
    /, #, ? and @: they work, and the password is in no output, JSON, log
    line, event row or history row."""
    password = SPECIAL_PASSWORDS[-1]
    log = proj / "logs" / "migration.log"
    (proj / "migrations" / "2_b.up.sql").write_text("CREATE TABLE b (x INTEGER);\n", encoding="utf-8")
    (proj / "migrations" / "2_b.down.sql").write_text("DROP TABLE b;\n", encoding="utf-8")
    with url_with_password(dialect, password) as url:
        outputs = []
        for args, code in SERVER_COMMANDS:
            r = run(proj, "--url", url, "--log-file", str(log), *args)
            assert r.exit_code == code, f"{args}: {mask_url(r.output)}"
            outputs.append(r.stdout + r.stderr)
        (proj / "migrations" / "3_c.up.sql").write_text("SELECT * FROM no_such_table;\n", encoding="utf-8")
        for args in (["up", "--json", "--debug"], ["-v", "--log-format", "json", "up"]):
            r = run(proj, "--url", url, "--log-file", str(log), *args)
            assert r.exit_code == 1, mask_url(r.output)
            outputs.append(r.stdout + r.stderr)
        events = _query(url, "SELECT * FROM migrata_events")
        history = _query(url, "SELECT * FROM migrata_history")
    assert len(events) >= 3 and history, "the commands left no events or history"
    assert "***" in "".join(outputs)  # the URL was shown, masked
    assert_no_secret("\n".join(outputs), "the output of the commands")
    assert_no_secret(log.read_text(encoding="utf-8"), "the log file")
    assert_no_secret(repr(events), "the event rows")
    assert_no_secret(repr(history), "the history rows")


# --- item 4: the wrong database ----------------------------------------------------------


def one_error(r: CliResult, code: int, *fragments: str) -> str:
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("# settings\nMIGRATA_TABLE=hist\nDATABASE_URL sqlite:///prod.db\n", 3, "DATABASE_URL"),
        ('DATABASE_URL="sqlite:///prod.db\nMIGRATA_TABLE=x\n', 1, "never closed"),
        ("DATABASE_URL='sqlite:///prod.db' junk\n", 1, "DATABASE_URL"),
        ("\n\n= sqlite:///prod.db\n", 3, "NAME=value"),
    ],
    ids=["no-equals", "unclosed-quote", "text-after-quote", "no-name"],
)
def test_dotenv_that_does_not_parse_names_file_and_line(proj: Path, text: str, line: int, fragment: str) -> None:
    (proj / "migrata.toml").write_text('url = "sqlite:///app.db"\n', encoding="utf-8")
    (proj / ".env").write_text(text, encoding="utf-8")
    for args in (["up"], ["status"], ["config"]):
        one_error(run(proj, *args), 2, f"{proj / '.env'} line {line}", fragment)
    assert not (proj / "app.db").exists() and not (proj / "prod.db").exists()


def test_dotenv_syntax_is_python_dotenvs(tmp_path: Path) -> None:
    """The values migrata reads from .env are the ones python-dotenv reads."""
    from dotenv import dotenv_values

    from migrata.envfile import EnvFile

    text = (
        "# a comment\n\nexport A=1\nB = two words  # trailing comment\nC='lit \\'q\\''\n"
        'D="x${A}y\\nz"\nE="multi\nline"\nF=${A:-d}/${UNSET_HERE:-dflt}\nH=\nJ=a#b\r\nK="q" # c\n'
    )
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    ours = dict(EnvFile(path, {}))
    theirs = {k: v for k, v in dotenv_values(path).items() if v is not None}
    assert ours == theirs


def test_variables_in_config_values(tmp_path: Path) -> None:
    (tmp_path / "migrata.toml").write_text(
        'url = "sqlite:///${APP_DB_FILE}"\nbackup_dir = "${BK:-bk}"\nbefore_up = "echo ${MIGRATA_VERSION}"\n'
        '[env.prod]\nurl = "sqlite:///${PROD_DIR}/${APP_DB_FILE}"\n',
        encoding="utf-8",
    )
    s = load_settings(directory=tmp_path, environ={"APP_DB_FILE": "real.db"})
    assert s.url == "sqlite:///real.db" and s.backup_dir == tmp_path / "bk"
    assert s.before_up == ["echo ${MIGRATA_VERSION}"]  # the shell expands a hook when it runs
    (tmp_path / ".env").write_text("PROD_DIR=/srv\nAPP_DB_FILE=from_dotenv.db\n", encoding="utf-8")
    s = load_settings(directory=tmp_path, env="prod", environ={"APP_DB_FILE": "real.db"})
    assert s.url == "sqlite:////srv/real.db"  # the environment first, then .env
    with pytest.raises(ConfigError) as err:
        load_settings(directory=tmp_path, environ={}, dotenv=False)
    assert "APP_DB_FILE" in err.value.message and "setting url" in err.value.message
    assert "migrata.toml" in err.value.message


def test_unset_variable_is_an_error_and_nothing_is_created(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_DB_FILE", raising=False)
    (proj / "migrata.toml").write_text('url = "sqlite:///${APP_DB_FILE}"\n', encoding="utf-8")
    one_error(run(proj, "up"), 2, "${APP_DB_FILE}", "APP_DB_FILE is not set", "url", "migrata.toml")
    assert sorted(p.name for p in proj.iterdir()) == ["migrata.toml", "migrations"]
    monkeypatch.setenv("APP_DB_FILE", "app.db")
    assert run(proj, "up").exit_code == 0 and (proj / "app.db").is_file()


def test_unset_variable_in_pyproject_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.migrata]\nurl = "${NOPE_URL}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"setting url \(pyproject.toml\) uses \$\{NOPE_URL\}"):
        load_settings(directory=tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text('[tool.migrata]\nmigrations = "m"\n', encoding="utf-8")
    (tmp_path / ".env").write_text("OTHER=${NOT_MINE}\nDATABASE_URL=sqlite:///${NOPE_DB}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"DATABASE_URL \(.*\.env line 2\) uses \$\{NOPE_DB\}"):
        load_settings(directory=tmp_path, environ={})
    s = load_settings(directory=tmp_path, environ={"NOPE_DB": "x.db"})  # OTHER is not migrata's: not read
    assert s.url == "sqlite:///x.db"


GUIDE_ENV = {"DB_HOST": "db.internal", "DB_USER": "gateway", "DB_PASSWORD": "p@ss/#?", "DB_NAME": "prefab"}


@pytest.mark.parametrize(
    ("extra", "family"),
    [
        ({"DB_PORT": "3306"}, "mysql"),
        ({"DB_PORT": "5432"}, "postgresql"),
        ({"DB_PORT": "6000", "DB_DRIVER": "mysql+pymysql"}, "mysql"),
        ({"DB_DIALECT": "mariadb"}, "mysql"),
        ({"DB_DRIVER": "postgres", "DB_PORT": "3306"}, "postgresql"),
        ({"DB_DRIVER": "postgresql+psycopg"}, "postgresql"),
    ],
)
def test_db_variables_dialect(tmp_path: Path, extra: dict[str, str], family: str) -> None:
    url = load_settings(directory=tmp_path, environ={**GUIDE_ENV, **extra}).database_url()
    assert (url.family, url.password, url.host) == (family, "p@ss/#?", "db.internal")


def test_db_variables_without_dialect_are_refused(proj: Path) -> None:
    """The prefab-gateway guide's .env without DB_PORT: no guess, a question."""
    (proj / ".env").write_text("".join(f"{k}={v}\n" for k, v in GUIDE_ENV.items()), encoding="utf-8")
    one_error(run(proj, "up"), 2, "DB_DRIVER", ".env")
    (proj / ".env").write_text("DB_HOST=db.internal\nDB_PORT=3306\nDB_USER=u\nDB_NAME=prefab\n", encoding="utf-8")
    r = run(proj, "config", "--json")
    assert json.loads(r.stdout)["settings"]["url"] == "mysql://u@db.internal:3306/prefab"


@pytest.mark.parametrize("password", [SPECIAL_PASSWORDS[-1]], ids=["special"])
def test_the_prefab_gateway_guides_dotenv_as_written_migrates_mariadb(proj: Path, password: str) -> None:
    """The guide's .env block, as written (comments, DB_* lines, the
    encryption key, no driver), pointing at the test MariaDB: `up` migrates
    MariaDB (the port says MySQL), and the raw password is never shown."""
    with url_with_password("mysql", password) as url:
        u = DatabaseURL.parse(url)
        (proj / ".env").write_text(
            "# 数据库配置\n"
            "DB_HOST=localhost\n"
            f"DB_PORT={u.port or 3306}\n"
            f"DB_USER={u.username}\n"
            f"DB_PASSWORD={password}\n"
            f"DB_NAME={u.database}\n"
            "\n"
            "# 加密配置（必须修改！）\n"
            "ENCRYPTION_KEY=your-32-byte-encryption-key-change-in-production-!!\n",
            encoding="utf-8",
        )
        r = run(proj, "up")
        assert r.exit_code == 0, mask_url(r.output)
        config = run(proj, "config", "--json")
        assert json.loads(config.stdout)["settings"]["url"].startswith("mysql://"), mask_url(config.stdout)
        assert _query(url, "SELECT version FROM migrata_history WHERE kind <> 'ledger'") == [("1",)]
        assert _query(url, "SELECT COUNT(*) FROM a") == [(0,)]
    for out in (r.output, config.output):
        assert_no_secret(out, "the output with the guide's .env")


def test_env_flag_wins_over_dotenv_and_environment(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (proj / "migrata.toml").write_text(
        'url = "sqlite:///dev.db"\n[env.staging]\nurl = "sqlite:///staging.db"\n', encoding="utf-8"
    )
    (proj / ".env").write_text("DATABASE_URL=sqlite:///dotenv.db\n", encoding="utf-8")
    assert run(proj, "--env", "staging", "up").exit_code == 0
    assert (proj / "staging.db").is_file() and not (proj / "dotenv.db").exists()
    monkeypatch.setenv("DATABASE_URL", "sqlite:///environ.db")
    r = run(proj, "--env", "staging", "config", "--json")
    data = json.loads(r.stdout)
    assert data["settings"]["url"] == "sqlite:///staging.db"
    assert data["origins"]["url"] == "migrata.toml [env.staging]"
    # a flag still wins over the section; without --env the environment wins over the file
    assert (
        json.loads(run(proj, "--env", "staging", "--url", "sqlite:///f.db", "config", "--json").stdout)["settings"][
            "url"
        ]
        == "sqlite:///f.db"
    )
    assert json.loads(run(proj, "config", "--json").stdout)["settings"]["url"] == "sqlite:///environ.db"
