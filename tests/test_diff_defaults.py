"""A numeric server default is the same default however the database
writes it back: MariaDB keeps a DECIMAL's scale (``0`` reads back as
``0.00``), which `diff` once reported as drift on every such column."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import migrata
from migrata.testing.plugin import fresh_database

pytest.importorskip("sqlalchemy")

MODELS = """
import sqlalchemy as sa

md = sa.MetaData()
sa.Table(
    "ledger_entry",
    md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", sa.Numeric(12, 2), nullable=False, server_default="0"),
    sa.Column("rate", sa.Numeric(5, 3), server_default="1.5"),
)
"""


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, directory=tmp_path) as u:
        yield u


def test_numeric_defaults_written_back_with_their_scale_are_no_drift(tmp_path: Path, url: str) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrata.toml").write_text(f'url = "{url}"\nmigrations = "migrations"\n', encoding="utf-8")
    name = f"models_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODELS), encoding="utf-8")
    cfg = migrata.load_settings(tmp_path / "migrata.toml")
    assert migrata.autogenerate(cfg, "init", models=f"{name}:md").changed
    migrata.upgrade(cfg)
    res = migrata.diff(cfg, models=f"{name}:md")
    assert not res.drift, [c["lines"] for c in res.comparisons]
    again = migrata.autogenerate(cfg, "again", models=f"{name}:md")
    assert not again.changed, again.differences
