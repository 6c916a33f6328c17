"""The documentation keeps up with the code.

Fails when a command, option, alias, exit code, setting or library function
is missing from the docs, and when the README's Quickstart contract breaks.
Fast: reads files and walks the click command tree, no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import migrata
from migrata import api
from migrata.cli.app import cli
from migrata.cli.group import ALIASES
from migrata.config import KEYS
from migrata.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SHARED_HEADING = "## Options every command accepts"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """``## heading`` -> the text under it, up to the next ``## `` heading (code fences skipped)."""
    sections: dict[str, str] = {}
    current: str | None = None
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            current = line.strip()
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


COMMANDS_MD = _read(DOCS / "commands.md")
SECTIONS = _sections(COMMANDS_MD)


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], (*path, name))


ALL = list(_walk(cli))
COMMANDS = [(" ".join(path), cmd) for path, cmd in ALL if path]
LEAVES = [(name, cmd) for name, cmd in COMMANDS if not isinstance(cmd, click.Group)]


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option)]


def _flags(option: click.Option) -> tuple[str, ...]:
    return tuple(sorted(option.opts + option.secondary_opts))


def _long_names(option: click.Option) -> list[str]:
    return [o for o in option.opts + option.secondary_opts if o.startswith("--")]


def _is_help(option: click.Option) -> bool:
    return "--help" in option.opts


def _is_version_option(option: click.Option) -> bool:
    return option.is_eager and not option.expose_value and "--version" in option.opts


ROOT_ONLY = [o for o in _options(cli) if _is_help(o) or _is_version_option(o)]
SHARED = [o for o in _options(cli) if o not in ROOT_ONLY]
SHARED_FLAGS = {_flags(o) for o in SHARED}


def _mentioned(flag: str, text: str) -> bool:
    """``--flag`` written in backticks, alone or followed by a value (`--steps N`)."""
    return re.search(rf"`{re.escape(flag)}(?:[ =][^`]*)?`", text) is not None


def _section(name: str) -> str:
    heading = f"## migrata {name}"
    assert heading in SECTIONS, f"docs/commands.md has no '{heading}' section"
    return SECTIONS[heading]


# --- the command tree ------------------------------------------------------------------


WITH_ROOT = [("", cli), *COMMANDS]


@pytest.mark.parametrize("name, command", WITH_ROOT, ids=[n or "migrata" for n, _ in WITH_ROOT])
def test_command_has_help_text(name: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`migrata {name}`".replace(" `", "`") + " has no help text"


@pytest.mark.parametrize("name, command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_section(name: str, command: click.Command) -> None:
    _section(name)


@pytest.mark.parametrize("name, command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_options_documented(name: str, command: click.Command) -> None:
    section = _section(name)
    missing = [
        flag
        for option in _options(command)
        if not _is_help(option) and _flags(option) not in SHARED_FLAGS
        for flag in _long_names(option)
        if not _mentioned(flag, section)
    ]
    assert not missing, f"'## migrata {name}' in docs/commands.md does not mention {', '.join(missing)}"


@pytest.mark.parametrize("name, command", LEAVES, ids=[n for n, _ in LEAVES])
def test_command_accepts_shared_options(name: str, command: click.Command) -> None:
    """The docs promise the shared options work on every command."""
    have = {_flags(o) for o in _options(command)}
    missing = [_long_names(o)[0] for o in SHARED if _flags(o) not in have]
    assert not missing, f"`migrata {name}` lacks the shared option(s) {', '.join(missing)}"


def test_shared_options_documented() -> None:
    assert SHARED_HEADING in SECTIONS, f"docs/commands.md has no '{SHARED_HEADING}' section"
    section = SECTIONS[SHARED_HEADING]
    missing = [
        flag
        for option in SHARED + [o for o in ROOT_ONLY if not _is_help(o)]
        for flag in _long_names(option)
        if not _mentioned(flag, section)
    ]
    assert not missing, f"'{SHARED_HEADING}' does not mention {', '.join(missing)}"


def test_no_stale_command_sections() -> None:
    known = {f"## migrata {name}" for name, _ in COMMANDS}
    stale = [h for h in SECTIONS if h.startswith("## migrata ") and h not in known]
    assert not stale, f"docs/commands.md documents commands that do not exist: {stale}"


@pytest.mark.parametrize("alias, target", sorted(ALIASES.items()))
def test_alias_documented(alias: str, target: str) -> None:
    assert f"`{alias}`" in _section(target), f"alias `{alias}` is not mentioned under '## migrata {target}'"


def test_aliases_resolve() -> None:
    ctx = click.Context(cli)
    for alias, target in ALIASES.items():
        resolved = cli.get_command(ctx, alias)
        assert resolved is not None, f"alias {alias} resolves to nothing"
        assert resolved.name == target.split()[-1], f"alias {alias} resolves to {resolved.name}, not {target}"


# --- exit codes, settings, library -------------------------------------------------------


def test_exit_codes_table_matches() -> None:
    text = _read(DOCS / "exit-codes.md")
    documented = {int(m) for m in re.findall(r"^\|\s*`?(\d+)`?\s*\|", text, re.M)}
    assert documented == set(EXIT_CODES), (
        f"docs/exit-codes.md lists {sorted(documented)}, migrata.errors.EXIT_CODES has {sorted(EXIT_CODES)}"
    )


def test_every_error_class_mapped() -> None:
    text = _read(DOCS / "exit-codes.md")
    errors = [name for name in migrata.errors.__all__ if name.endswith("Error")]
    missing = [name for name in errors if f"`{name}`" not in text]
    assert not missing, f"docs/exit-codes.md does not map {', '.join(missing)}"


def test_every_setting_documented() -> None:
    text = _read(DOCS / "configuration.md")
    missing = []
    flags = {f for o in SHARED for f in _long_names(o)}
    for key in KEYS:
        env_var = "MIGRATA_DATABASE_URL" if key == "url" else f"MIGRATA_{key.upper()}"
        flag = "--" + key.replace("_", "-")
        for spelling in (f"`{key}`", f"`{env_var}`", f"`{flag}`" if flag in flags else None):
            if spelling and spelling not in text:
                missing.append(spelling)
    assert not missing, f"docs/configuration.md does not mention {', '.join(missing)}"


def test_every_library_command_documented() -> None:
    text = _read(DOCS / "library.md")
    missing = [name for name in api.__all__ if f"migrata.{name}(" not in text]
    assert not missing, f"docs/library.md does not document {', '.join(missing)}"
    assert set(api.__all__) <= set(migrata.__all__)


def test_docs_links_resolve() -> None:
    for md in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", _read(md)):
            assert (md.parent / target).is_file(), f"{md.name} links to missing {target}"


# --- README contract ---------------------------------------------------------------------


def _quickstart_commands() -> list[str]:
    text = _read(ROOT / "README.md") + "\n# end\n"
    m = re.search(r"^#+\s*Quick\s*start.*?$(.*?)(?=^#+\s)", text, re.S | re.M | re.I)
    assert m, "README.md has no Quickstart section"
    blocks = re.findall(r"```[a-z]*\n(.*?)```", m.group(1), re.S)
    return [
        line.strip().removeprefix("$ ")
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_readme_quickstart_has_two_commands() -> None:
    commands = _quickstart_commands()
    assert len(commands) == 2, f"the Quickstart must hold exactly two commands, it holds {len(commands)}"


def test_ci_runs_the_readme_test_command() -> None:
    commands = _quickstart_commands()
    ci = _read(ROOT / ".ci" / "run")
    assert commands[-1] in ci, f".ci/run does not call the README's test command as written: {commands[-1]!r}"
