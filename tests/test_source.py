"""Unit tests for discovering and parsing migration files (no database)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migrata._core.model import Version
from migrata._core.source import checksum, load_source
from migrata.errors import ConfigError, IrreversibleError, MigrationFileError
from migrata.util import parse_duration


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- versions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [("2", "10"), ("000002", "10"), ("1.9", "1.10"), ("2_4_1", "2.5"), ("9", "20251016093000"), ("1", "1.0.1")],
)
def test_versions_compare_as_numbers(a: str, b: str) -> None:
    assert Version.parse(a) < Version.parse(b)
    assert Version.parse(b) > Version.parse(a)


def test_version_equality_ignores_padding_and_trailing_zeros() -> None:
    assert Version.parse("000001") == Version.parse("1") == Version.parse("1.0") == Version.parse("V1")
    assert Version.parse("2_4_1").canonical == "2.4.1"
    assert Version.parse("000010").canonical == "10"
    with pytest.raises(ValueError):
        Version.parse("1a")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("500ms", 0.5), ("5m", 300), ("1h", 3600), (10, 10), ("2.5", 2.5)]
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["abc", "-1s", "5 parsecs", True, -3])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


# --- file forms -------------------------------------------------------------------


def test_every_file_form_is_recognised(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "000001_init.up.sql", "CREATE TABLE a (id INT);")
    write(d, "000001_init.down.sql", "DROP TABLE a;")
    write(d, "2_single.sql", "-- migrate:up\nCREATE TABLE b (id INT);\n-- migrate:down\nDROP TABLE b;\n")
    write(d, "3_code.py", '"""Backfill things."""\ndef up(ctx):\n    pass\ndef down(ctx):\n    pass\n')
    write(d, "V4__flyway.sql", "CREATE TABLE c (id INT);")
    write(d, "U4__flyway_undo.sql", "DROP TABLE c;")
    write(d, "V4_1_2__multi.sql", "CREATE TABLE d (id INT);")
    write(d, "R__views.sql", "CREATE VIEW v AS SELECT 1;")
    write(d, "10_goose.sql", "-- +goose Up\nCREATE TABLE e (id INT);\n-- +goose Down\nDROP TABLE e;\n")
    write(d, "11_plain.sql", "CREATE TABLE f (id INT);")
    write(d, "README.md", "ignored")
    write(d, "_helpers.py", "ignored = True")
    write(d, "12_x.verify.sql", "SELECT 1;")
    src = load_source(d)
    assert [m.id for m in src.versioned] == ["1", "2", "3", "4", "4.1.2", "10", "11"]
    assert [m.id for m in src.repeatables] == ["R__views"]
    by = {m.id: m for m in src.versioned}
    assert by["1"].down is not None and by["1"].down.sql is None  # found by name, read when needed
    src.read(by["1"], by["1"].down)
    assert by["1"].down.sql == "DROP TABLE a;"
    assert by["2"].up.sql is not None and "CREATE TABLE b" in by["2"].up.sql
    assert by["2"].down is not None and by["2"].down.sql is not None and "DROP TABLE b" in by["2"].down.sql
    assert by["2"].up.line_offset == 1 and by["2"].down.line_offset == 3
    assert by["3"].kind == "py"
    assert by["4"].down is not None and by["4"].down.path.name == "U4__flyway_undo.sql"
    assert by["4.1.2"].down is None
    assert by["10"].down is not None
    assert by["11"].down is None


def test_custom_file_pattern(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "V0001.Initial_Schema.up.sql", "CREATE TABLE a (id INT);")
    write(d, "V0001.Initial_Schema.down.sql", "DROP TABLE a;")
    write(d, "V0002.Next.up.sql", "CREATE TABLE b (id INT);")
    with pytest.raises(MigrationFileError, match="does not parse"):
        load_source(d)
    src = load_source(d, patterns=[r"^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$"])
    assert [(m.id, m.name) for m in src.versioned] == [("1", "Initial_Schema"), ("2", "Next")]


def test_bad_custom_pattern_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="version"):
        load_source(tmp_path, patterns=[r"^(?P<name>.+)\.sql$"])
    with pytest.raises(ConfigError, match="regular expression"):
        load_source(tmp_path, patterns=["(unclosed"])


def test_directives(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "1_idx.up.sql", "-- migrata:no-transaction\n-- migrata:timeout 30s\nCREATE INDEX i ON t (x);")
    write(d, "2_s.sql", "-- migrate:up transaction:false\nVACUUM;\n-- migrate:down\nSELECT 1;\n")
    write(d, "3_s.sql", "-- migrate:up transaction:false\nVACUUM;\n-- migrate:down transaction:true\nSELECT 1;\n")
    write(
        d,
        "4_s.sql",
        "-- migrata:no-transaction\n-- migrate:up\nVACUUM;\n-- migrate:down\n-- migrata:transaction\nSELECT 1;\n",
    )
    m1, m2, m3, m4 = load_source(d).versioned
    assert not m1.up.transactional and m1.up.explicit_no_transaction and m1.up.timeout == 30
    # the up part's no-transaction applies to its down part unless the down part says otherwise
    assert not m2.up.transactional and m2.down is not None and not m2.down.transactional
    assert not m3.up.transactional and m3.down is not None and m3.down.transactional
    assert not m4.up.transactional and m4.down is not None and m4.down.transactional


def test_checksum_ignores_line_endings_and_bom(tmp_path: Path) -> None:
    lf = write(tmp_path / "a", "1_x.up.sql", b"CREATE TABLE a (id INT);\nSELECT 1;\n")
    crlf = write(tmp_path / "b", "1_x.up.sql", b"\xef\xbb\xbfCREATE TABLE a (id INT);\r\nSELECT 1;\r\n")
    a = load_source(lf.parent).versioned[0]
    b = load_source(crlf.parent).versioned[0]
    assert a.checksum == b.checksum == checksum("CREATE TABLE a (id INT);\nSELECT 1;\n")


def test_down_edit_does_not_change_checksum(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "1_x.up.sql", "CREATE TABLE a (id INT);")
    write(d, "1_x.down.sql", "DROP TABLE a;")
    before = load_source(d).versioned[0].checksum
    write(d, "1_x.down.sql", "DROP TABLE IF EXISTS a;")
    assert load_source(d).versioned[0].checksum == before


# --- broken sets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message", "culprit"),
    [
        ({"1_a.up.sql": "SELECT 1;", "001_b.up.sql": "SELECT 2;"}, "duplicate version 1", None),
        ({"V1__a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"}, "duplicate version 1", None),
        ({"1_a.down.sql": "SELECT 1;"}, "down part without an up", "1_a.down.sql"),
        ({"one_a.sql": "SELECT 1;"}, "does not parse", "one_a.sql"),
        ({"1_a.up.sql": "-- nothing here\n\n"}, "empty migration", "1_a.up.sql"),
        ({"1_a.up.sql": b"SELECT '\xff';"}, "not valid UTF-8", "1_a.up.sql"),
        ({"1_a.up.sql": "-- migrata:nonsense\nSELECT 1;"}, "unknown directive", "1_a.up.sql"),
        ({"1_a.up.sql": "-- migrata:timeout forever\nSELECT 1;"}, "not a duration", "1_a.up.sql"),
        ({"1_a.sql": "-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 2;"}, "one '-- migrate:up'", "1_a.sql"),
        ({"1_a.sql": "-- migrate:up\nSELECT 1;\n-- migrate: dwn\nSELECT 2;"}, "unknown section marker", "1_a.sql"),
        ({"1_a.sql": "SELECT 0;\n-- migrate:up\nSELECT 1;"}, "before the '-- migrate:up'", "1_a.sql"),
        ({"1_a.py": "def up(ctx):\n    pass\n", "1_a.down.sql": "SELECT 1;"}, "already defines its down", None),
        ({"1_a.sql": "-- migrate:up\n-- todo\n-- migrate:down\nSELECT 1;\n"}, "up part has no SQL", "1_a.sql"),
    ],
)
def test_broken_sets_are_refused_naming_the_file(
    tmp_path: Path, files: dict[str, str | bytes], message: str, culprit: str | None
) -> None:
    d = tmp_path / "m"
    for name, text in files.items():
        write(d, name, text)
    with pytest.raises(MigrationFileError, match=message) as info:
        load_source(d)
    if culprit:
        assert info.value.path is not None and info.value.path.endswith(culprit)


def test_allow_empty_accepts_empty_files(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "1_a.up.sql", "")
    write(d, "1_a.down.sql", "")
    assert len(load_source(d, allow_empty=True).versioned) == 1


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="does not exist"):
        load_source(tmp_path / "nope")
    assert load_source(tmp_path / "nope", must_exist=False).versioned == []


def test_python_migration_import_errors(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "1_broken.py", "def up(ctx):\n    pass\nraise RuntimeError('boom')\n")
    src = load_source(d)
    with pytest.raises(MigrationFileError, match="fails to import: RuntimeError: boom") as info:
        src.load_python()
    assert info.value.line == 3
    d2 = tmp_path / "m2"
    write(d2, "1_noup.py", "def down(ctx):\n    pass\n")
    with pytest.raises(MigrationFileError, match=r"must define up\(ctx\)"):
        load_source(d2).load_python()
    d3 = tmp_path / "m3"
    write(d3, "1_syntax.py", "def up(ctx)\n    pass\n")
    with pytest.raises(MigrationFileError, match="SyntaxError") as info:
        load_source(d3).load_python()
    assert info.value.line == 1


def test_python_flags_and_docstring(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(
        d,
        "1_flags.py",
        '"""Make things.\n\nMore text."""\ntransactional = False\ntimeout = "5s"\ndef up(ctx):\n    pass\n',
    )
    src = load_source(d)
    src.load_python()
    m = src.versioned[0]
    assert m.description == "Make things."
    assert not m.up.transactional and m.up.timeout == 5
    assert m.down is None  # no down() defined


def test_leading_integer_is_the_version_even_before_digits_in_the_name(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "000001_2024_cleanup.up.sql", "SELECT 1;")
    write(d, "2.1_x.up.sql", "SELECT 1;")
    write(d, "V3_1__flyway.sql", "SELECT 1;")
    assert [(m.id, m.name) for m in load_source(d).versioned] == [
        ("1", "2024_cleanup"),
        ("2.1", "x"),
        ("3.1", "flyway"),
    ]


def test_goose_no_transaction(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(
        d,
        "1_g.sql",
        "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX i ON t (x);\n-- +goose Down\nDROP INDEX i;\n",
    )
    m = load_source(d).versioned[0]
    assert not m.up.transactional and m.down is not None and not m.down.transactional


def test_a_separate_down_file_is_read_and_checked_when_needed(tmp_path: Path) -> None:
    """Reports only ask whether a down file exists; a rollback (or validate)
    reads it, with the same checks as any migration file."""
    d = tmp_path / "m"
    write(d, "1_a.up.sql", "CREATE TABLE a (id INT);")
    write(d, "1_a.down.sql", "-- only a comment\n")
    write(d, "2_b.up.sql", "CREATE TABLE b (id INT);")
    write(d, "2_b.down.sql", "-- migrata:no-transaction\nDROP TABLE b;")
    src = load_source(d)
    a, b = src.versioned
    assert a.down is not None and b.down is not None
    down_a = a.down
    with pytest.raises(IrreversibleError, match=r"1 a has no down part \(1_a.down.sql holds no SQL\)"):
        src.read(a, down_a)  # a rollback needs it: refused
    src.read_all()  # validate: an empty down part is no down part
    assert a.down is None and a.empty_down == down_a.path
    src.read(b, b.down)
    assert b.down.sql is not None and not b.down.transactional and b.down.explicit_no_transaction
    assert load_source(d, allow_empty=True).read_all() is None


def test_an_empty_down_section_is_no_down_part(tmp_path: Path) -> None:
    d = tmp_path / "m"
    write(d, "1_a.sql", "-- migrate:up\nCREATE TABLE a (id INT);\n-- migrate:down\n-- todo\n")
    m = load_source(d).versioned[0]
    assert m.down is None and m.empty_down == d / "1_a.sql"
    m = load_source(d, allow_empty=True).versioned[0]
    assert m.down is not None and m.empty_down is None
