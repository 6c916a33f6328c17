"""`migrata autogenerate` on real databases: a model set covering every
object kind generates a pair that applies, after which `diff` reports
nothing; each model change then generates a pair that applies and whose
down restores the schema before it (checked with `diff`)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import migrata
from migrata.errors import MigrationFileError
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database

DIALECTS = ["sqlite", "postgresql", "mysql"]

BASE = """
import sqlalchemy as sa

md = sa.MetaData()
users = sa.Table(
    "users", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(200), nullable=False, comment="login name"),
    sa.Column("nick", sa.String(50)),
    sa.Column("status", sa.Enum("active", "disabled", name="user_status"), nullable=False, server_default="active"),
    sa.Column("profile", sa.JSON),
    sa.Column("score", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("score >= 0", name="ck_users_score"),
    sa.UniqueConstraint("email", name="uq_users_email"),
    comment="people who log in",
)
posts = sa.Table(
    "posts", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_posts_user"), nullable=False),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("body", sa.Text),
    sa.Index("ix_posts_title", "title"),
)
"""

# each change: (name, replacement in BASE text, whether up must be reviewed first)
CHANGES = [
    (
        "add_column",
        (
            '    sa.Column("body", sa.Text),\n',
            '    sa.Column("body", sa.Text),\n    sa.Column("views", sa.Integer, server_default="0"),\n',
        ),
        False,
    ),
    ("drop_column", ('    sa.Column("body", sa.Text),\n', ""), True),
    ("alter_column", ('sa.Column("nick", sa.String(50))', 'sa.Column("nick", sa.String(80), nullable=False)'), False),
    ("rename_column", ('sa.Column("nick", sa.String(80)', 'sa.Column("handle", sa.String(80)'), False),
    (
        "add_index",
        (
            '    sa.Index("ix_posts_title", "title"),\n',
            '    sa.Index("ix_posts_title", "title"),\n    sa.Index("ix_posts_title_user", "title", "user_id"),\n',
        ),
        False,
    ),
    (
        "add_check",
        (
            '    sa.CheckConstraint("score >= 0", name="ck_users_score"),\n',
            '    sa.CheckConstraint("score >= 0", name="ck_users_score"),\n'
            '    sa.CheckConstraint("score < 1000000", name="ck_users_score_max"),\n',
        ),
        False,
    ),
    (
        "enum_value",
        (
            'sa.Enum("active", "disabled", name="user_status")',
            'sa.Enum("active", "disabled", "deactivated", name="user_status")',
        ),
        False,
    ),
]


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, directory=tmp_path) as u:
        yield u


def write_models(root: Path, text: str) -> str:
    """A new module (a new name: the import cache must not hand back an older one)."""
    name = f"models_{uuid.uuid4().hex[:10]}"
    (root / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return f"{name}:md"


def settings(root: Path, url: str) -> migrata.Settings:
    (root / "migrations").mkdir(exist_ok=True)
    (root / "migrata.toml").write_text(f'url = "{url}"\nmigrations = "migrations"\n', encoding="utf-8")
    return migrata.load_settings(root / "migrata.toml")


def assert_no_drift(cfg: migrata.Settings, models: str) -> None:
    res = migrata.diff(cfg, models=models)
    assert not res.drift, [c["lines"] for c in res.comparisons]
    assert [(c["left"], c["right"]) for c in res.comparisons] == [("database", "migrations"), ("migrations", "models")]


def approve(path: str) -> None:
    p = Path(path)
    p.write_text("".join(x for x in p.read_text().splitlines(True) if "migrata:review-required" not in x))


def test_models_to_schema_and_every_change_round_trips(tmp_path: Path, url: str) -> None:
    cfg = settings(tmp_path, url)
    models = write_models(tmp_path, BASE)
    first = migrata.autogenerate(cfg, "init", models=models)
    assert first.changed and first.version == "000001"
    migrata.upgrade(cfg)
    assert_no_drift(cfg, models)
    # nothing changed: nothing written
    again = migrata.autogenerate(cfg, "again", models=models)
    assert not again.changed and again.files == []
    assert len(list((tmp_path / "migrations").iterdir())) == 2

    text = BASE
    for name, (old, new), reviewed in CHANGES:
        assert old in text, name
        text_after = text.replace(old, new)
        models_after = write_models(tmp_path, text_after)
        res = migrata.autogenerate(cfg, name, models=models_after)
        assert res.changed, name
        up_file = next(f for f in res.files if f.endswith(".up.sql"))
        if reviewed:
            assert res.losses
            with pytest.raises(MigrationFileError, match="needs review"):
                migrata.upgrade(cfg)
            approve(up_file)
        if name == "rename_column":
            assert res.notes and "nick -> handle" in res.notes[0]
            assert "RENAME" in Path(up_file).read_text().upper()
        migrata.upgrade(cfg)
        assert_no_drift(cfg, models_after)
        # the down restores the schema before the change
        migrata.downgrade(cfg)
        res_down = migrata.diff(cfg)  # the live database against the migrations it has applied
        assert not res_down.drift, res_down.comparisons[0]["lines"]
        assert len(res_down.comparisons) == 1
        migrata.upgrade(cfg)
        text, models = text_after, models_after


def test_cli_autogenerate_nothing_changed_and_bad_models(tmp_path: Path) -> None:
    with fresh_database("sqlite", directory=tmp_path) as url:
        settings(tmp_path, url)
        models = write_models(tmp_path, BASE)
        ok = run_cli(["autogenerate", "init", "--models", models], cwd=tmp_path)
        assert ok.exit_code == 0, ok.output
        assert "created" in ok.stdout and "table users: only in models" in ok.stdout
        assert run_cli(["up"], cwd=tmp_path).exit_code == 0
        same = run_cli(["autogenerate", "same", "--models", models], cwd=tmp_path)
        assert same.exit_code == 0 and "nothing changed" in same.stdout
        bad = run_cli(["autogenerate", "x", "--models", "no_such_module:md"], cwd=tmp_path)
        assert bad.exit_code == 2 and "Traceback" not in bad.output and "no_such_module" in bad.stderr
        missing = run_cli(["autogenerate", "x"], cwd=tmp_path)
        assert missing.exit_code == 2 and "no models" in missing.stderr
