"""``.env`` files and ``${VAR}`` references in settings, for :mod:`migrata.config`.

A ``.env`` file is read strictly: a line that does not parse is a
:class:`~migrata.errors.ConfigError` naming the file and the line, never a
line silently skipped (a skipped ``DATABASE_URL`` means another database is
migrated). The syntax is python-dotenv's: ``NAME=value`` (``export`` before
it allowed), ``#`` comments, ``'single'`` and ``"double"`` quotes (the
latter with ``\\n``-style escapes; both may span lines), and ``${VAR}`` /
``${VAR:-default}`` references in values.

:func:`expand` resolves those references; an unset variable without a
default is an error naming it and where it was used. ``$${`` is a literal
``${``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from migrata.errors import ConfigError

__all__ = ["EnvFile", "expand"]

_REF_RE = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{")
_KEY_RE = re.compile(r"[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*")
_ESCAPES_RE = re.compile(r"\\[\\'\"abfnrtv]")
_REST_RE = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r\n|\n|\r|$)")


def expand(text: str, lookup: Callable[[str], str | None], where: str) -> str:
    """``text`` with ``${VAR}`` and ``${VAR:-default}`` replaced by
    ``lookup(VAR)`` (the default when it is unset or empty). ``where`` names
    the setting and its file for the error about an unset variable."""

    def one(match: re.Match[str]) -> str:
        token, name, default = match.group(0), match.group("name"), match.group("default")
        if token == "$${":
            return "${"
        if name is None:
            raise ConfigError(
                f"{where}: '${{' starts no variable reference",
                hint="write ${NAME} or ${NAME:-default}; $${ is a literal ${",
            )
        value = lookup(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            raise ConfigError(
                f"{where} uses ${{{name}}}, and {name} is not set",
                hint=f"set {name} in the environment or in .env, or give a default: ${{{name}:-value}}",
            )
        return value

    return _REF_RE.sub(one, text) if "${" in text else text


@dataclass(frozen=True)
class _Entry:
    value: str
    line: int


class EnvFile(Mapping[str, str]):
    """The variables of one ``.env`` file. A value is expanded when it is
    read, from the process environment and the lines above it, so a
    reference in a line migrata never reads cannot fail a command."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self._environ = environ
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        self._entries = _parse(text, path)

    def __getitem__(self, name: str) -> str:
        entry = self._entries[name]

        def lookup(ref: str) -> str | None:
            if ref in self._environ:
                return self._environ[ref]
            earlier = self._entries.get(ref)
            return self[ref] if earlier is not None and earlier.line < entry.line else None

        return expand(entry.value, lookup, f"{name} ({self.path} line {entry.line})")

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _parse(text: str, path: Path) -> dict[str, _Entry]:
    entries: dict[str, _Entry] = {}
    pos, line = 0, 1
    while pos < len(text):
        start_line = line
        end = _line_end(text, pos)
        stripped = text[pos:end].strip()
        if not stripped or stripped.startswith("#"):
            pos, line = _next_line(text, end), line + 1
            continue
        key = _KEY_RE.match(text, pos, end)
        if key is None:
            raise _bad(path, start_line, "expected NAME=value")
        name, pos = key.group("key"), key.end()
        if pos == end or text[pos] == "#":  # "NAME" alone: declared without a value, as dotenv reads it
            pos, line = _next_line(text, end), line + 1
            continue
        if text[pos] != "=":
            raise _bad(path, start_line, f"{name} is followed by text but no '='")
        value, pos = _value(text, pos + 1, path, start_line)
        line = start_line + _count_lines(text, key.start(), pos)
        rest = _REST_RE.match(text, pos)
        if rest is None:
            raise _bad(path, line, f"unexpected text after the value of {name}")
        if rest.group(0).endswith(("\n", "\r")):
            line += 1
        pos = rest.end()
        entries[name] = _Entry(value, start_line)
    return entries


def _value(text: str, pos: int, path: Path, line: int) -> tuple[str, int]:
    """The value starting at ``pos`` (after ``=``) and where it ends."""
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
    if not quote:
        end = _line_end(text, pos)
        raw = re.sub(r"\s+#.*", "", text[pos:end]).strip()
        return raw, end
    i = pos + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise _bad(path, line, f"the {quote} quote opened here is never closed")
    raw = text[pos + 1 : i]
    if quote == "'":
        return raw.replace("\\'", "'").replace("\\\\", "\\"), i + 1
    return _ESCAPES_RE.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), raw), i + 1


def _line_end(text: str, pos: int) -> int:
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)


def _next_line(text: str, end: int) -> int:
    return end + 2 if text.startswith("\r\n", end) else end + 1


def _count_lines(text: str, start: int, end: int) -> int:
    chunk = text[start:end]
    return chunk.count("\n") + chunk.count("\r") - chunk.count("\r\n")


def _bad(path: Path, line: int, why: str) -> ConfigError:
    return ConfigError(
        f"{path} line {line} does not parse: {why}",
        hint='write one NAME=value per line; quote a value with spaces or # in it: NAME="a b"',
    )
