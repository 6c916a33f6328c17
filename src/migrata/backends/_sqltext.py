"""Small helpers over SQL text shared by the backends: comments, keywords,
object names as written, and a statement splitter for the server dialects.
Private to ``migrata.backends`` (and the engine's readers of statements).
"""

from __future__ import annotations

import functools
import re

_WORD = r"[A-Za-z_][A-Za-z0-9_]*"
_WORD_RE = re.compile(_WORD)


def dash_comment(sql: str, pos: int, mysql: bool = False) -> bool:
    """Whether a ``--`` comment starts at ``pos``. MySQL's (``mysql``) needs
    whitespace or a control character after the dashes, so ``x--1`` is
    ``x - -1`` there."""
    if not sql.startswith("--", pos):
        return False
    return not mysql or pos + 2 >= len(sql) or sql[pos + 2] <= " "


def skip_space_and_comments(sql: str, pos: int = 0, *, hash_comments: bool = False, nested: bool = True) -> int:
    """Index of the first character at or after ``pos`` that is neither
    whitespace nor inside a comment (``--``, ``/* */`` nested or not, and
    ``#`` if asked: MySQL's rules, where ``--`` also needs a space after
    it). MySQL's executable ``/*! ... */`` comments count as SQL."""
    n = len(sql)
    while pos < n:
        ch = sql[pos]
        if ch.isspace():
            pos += 1
        elif dash_comment(sql, pos, hash_comments) or (hash_comments and ch == "#"):
            end = sql.find("\n", pos)
            pos = n if end < 0 else end + 1
        elif sql.startswith("/*", pos) and not sql.startswith("/*!", pos):
            pos = _skip_block_comment(sql, pos, nested)
        else:
            break
    return pos


def is_blank(sql: str, *, hash_comments: bool = False, nested: bool = True) -> bool:
    """True when ``sql`` holds only whitespace, comments and semicolons."""
    pos = 0
    while True:
        pos = skip_space_and_comments(sql, pos, hash_comments=hash_comments, nested=nested)
        if pos < len(sql) and sql[pos] == ";":
            pos += 1
            continue
        return pos >= len(sql)


def leading_keywords(sql: str, count: int = 3, *, hash_comments: bool = False) -> list[str]:
    """The first ``count`` words of a statement, upper-cased, comments skipped."""
    if count <= _KEPT_WORDS:
        return list(_first_words(sql, hash_comments)[:count])
    return _words(sql, count, hash_comments)


_KEPT_WORDS = 4
_FIRST_WORDS_RE = re.compile(rf"\s*({_WORD})" + rf"(?:\s+({_WORD}))?" * (_KEPT_WORDS - 1))


@functools.lru_cache(maxsize=1024)
def _first_words(sql: str, hash_comments: bool) -> tuple[str, ...]:
    """The first four words: preparing a step asks several questions of each
    statement. Words separated by whitespace only are read by one regular
    expression; a comment among them takes the long way."""
    m = _FIRST_WORDS_RE.match(sql)
    if m is not None:
        words = tuple(w.upper() for w in m.groups() if w is not None)
        if len(words) == _KEPT_WORDS:
            return words
        rest = sql[m.end() :].lstrip()
        if not rest.startswith(("--", "/*")) and not (hash_comments and rest.startswith("#")):
            return words
    return tuple(_words(sql, _KEPT_WORDS, hash_comments))


def _words(sql: str, count: int, hash_comments: bool) -> list[str]:
    words: list[str] = []
    pos = skip_space_and_comments(sql, 0, hash_comments=hash_comments)
    while len(words) < count:
        m = _WORD_RE.match(sql, pos)
        if not m:
            break
        words.append(m.group(0).upper())
        pos = skip_space_and_comments(sql, m.end(), hash_comments=hash_comments)
    return words


def bare_name(name: str) -> str:
    """An object's name as written (``"public"."t"``, `` `db`.`t` ``, ``[t]``)
    as names compare: the last part, without quotes, in lower case."""
    last = name.strip().split(".")[-1]
    return last.strip('`"[] \n\t').lower()


def line_of(sql: str, offset: int) -> int:
    """1-based line number of character ``offset``."""
    return sql.count("\n", 0, offset) + 1


# --- a splitter for server dialects --------------------------------------------------


class SplitDialect:
    """What a dialect's client knows about statement boundaries."""

    def __init__(
        self,
        *,
        hash_comments: bool = False,
        backslash_escapes: bool = False,
        dollar_quotes: bool = False,
        backticks: bool = False,
        nested_comments: bool = False,
        delimiter_command: bool = False,
        compound_blocks: bool = False,
        begin_atomic: bool = False,
        parentheses: bool = False,
    ) -> None:
        self.hash_comments = hash_comments
        self.backslash_escapes = backslash_escapes
        self.dollar_quotes = dollar_quotes
        self.backticks = backticks
        self.nested_comments = nested_comments
        self.delimiter_command = delimiter_command
        self.compound_blocks = compound_blocks
        self.begin_atomic = begin_atomic
        # psql: a semicolon inside parentheses does not end the statement
        # (CREATE RULE ... DO ALSO (INSERT ...; INSERT ...))
        self.parentheses = parentheses
        specials = "'\";\n-/" + ("#" if hash_comments else "") + ("$" if dollar_quotes else "")
        specials += "`" if backticks else ""
        specials += "()" if parentheses else ""
        # words matter only inside a routine body (BEGIN ... END): elsewhere the
        # scanner skips them in one regex search instead of word by word
        self.specials = specials
        self.scan_plain = re.compile("[" + re.escape(specials) + "]")
        self.scan = re.compile("[" + re.escape(specials) + "a-zA-Z_]") if compound_blocks or begin_atomic else None
        self._delimited: dict[str, re.Pattern[str]] = {}

    def scan_delimited(self, delimiter: str) -> re.Pattern[str]:
        """The scanner under a ``DELIMITER``: it also stops where one may start."""
        found = self._delimited.get(delimiter)
        if found is None:
            found = re.compile("[" + re.escape(self.specials + delimiter[0]) + "]")
            self._delimited[delimiter] = found
        return found


_DOLLAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_DELIMITER_RE = re.compile(r"[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.I)
_ROUTINE_RE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?"
    r"(?:PROCEDURE|FUNCTION|TRIGGER|EVENT|PACKAGE)\b",
    re.I,
)
# PostgreSQL's SQL-standard bodies (BEGIN ATOMIC ... END) belong to functions
# and procedures only; any other statement is scanned for quotes and ends alone
_ATOMIC_RE = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b", re.I)
_END_FOLLOWERS = ("IF", "LOOP", "WHILE", "REPEAT", "FOR")


_STRINGS: dict[tuple[str, bool], re.Pattern[str]] = {}


def _skip_string(sql: str, pos: int, quote: str, backslash: bool) -> int:
    """Index just past the string/identifier opened at ``pos`` (a doubled
    quote stays inside; with ``backslash`` so does an escaped character)."""
    rx = _STRINGS.get((quote, backslash))
    if rx is None:
        q = re.escape(quote)
        body = rf"(?:[^{q}\\]|\\.|{q}{q})*" if backslash else rf"(?:[^{q}]|{q}{q})*"
        rx = _STRINGS[(quote, backslash)] = re.compile(q + body + q, re.S)
    m = rx.match(sql, pos)
    return m.end() if m else len(sql)


def _skip_block_comment(sql: str, pos: int, nested: bool) -> int:
    depth = 1
    i = pos + 2
    n = len(sql)
    while i < n and depth:
        if sql.startswith("*/", i):
            depth -= 1
            i += 2
        elif nested and sql.startswith("/*", i):
            depth += 1
            i += 2
        else:
            i += 1
    return i


def split_sqlite(sql: str) -> list[tuple[str, int]]:
    """SQLite's statements of ``sql`` with the line each starts on: a
    semicolon ends one where SQLite's own ``complete_statement`` says the
    text up to it is complete (so one inside a trigger's body does not)."""
    import sqlite3

    statements: list[tuple[str, int]] = []
    start = pos = line_at = 0  # line_at: the offset whose line number is `line`
    line, n = 1, len(sql)
    while start < n:
        semi = sql.find(";", pos)
        end = n if semi < 0 else semi + 1
        chunk = sql[start:end]
        if semi >= 0 and not sqlite3.complete_statement(chunk):
            pos = semi + 1
            continue
        if not is_blank(chunk):
            first = skip_space_and_comments(sql, start)
            line += sql.count("\n", line_at, first)
            line_at = first
            statements.append((sql[first:end].strip(), line))
        start = pos = end
    return statements


def split_sql(sql: str, d: SplitDialect) -> list[tuple[str, int]]:
    """Cut ``sql`` into (statement, 1-based line) pairs the way the dialect's
    own client does: quotes, comments, dollar quotes, ``DELIMITER`` and
    ``BEGIN ... END`` bodies are respected; blank statements are dropped."""
    return _Splitter(sql, d).split()


class _Splitter:
    """One pass over a script (see :func:`split_sql`)."""

    def __init__(self, sql: str, d: SplitDialect) -> None:
        self.sql, self.d, self.n = sql, d, len(sql)
        self.out: list[tuple[str, int]] = []
        self.delimiter = ";"
        self.start = 0  # start of the current statement
        self.pos = 0
        self.depth = 0  # BEGIN/CASE ... END nesting inside a routine body
        self.parens = 0  # open parentheses (dialects whose client counts them)
        self.routine: bool | None = None  # None: not known yet for this statement
        self.at_line_start = True

    def skip(self, at: int) -> int:
        return skip_space_and_comments(self.sql, at, hash_comments=self.d.hash_comments, nested=self.d.nested_comments)

    def blank(self, text: str) -> bool:
        return is_blank(text, hash_comments=self.d.hash_comments, nested=self.d.nested_comments)

    def split(self) -> list[tuple[str, int]]:
        while self.pos < self.n:
            if self._delimiter_command() or self._custom_delimiter():
                continue
            m = self._scanner().search(self.sql, self.pos)
            if m is None:
                break
            self.pos = m.start()
            if self.delimiter != ";" and self.sql.startswith(self.delimiter, self.pos):
                continue  # the delimiter: emitted at the top of the loop
            self._special(self.sql[self.pos])
        if self.start < self.n:
            self._emit(self.n, self.n)
        return self.out

    def _emit(self, end: int, resume: int) -> None:
        chunk = self.sql[self.start : end]
        if not self.blank(chunk):
            first = self.skip(self.start)
            self.out.append((self.sql[first:end].strip(), line_of(self.sql, first)))
        self.start = resume
        self.depth = self.parens = 0
        self.routine = None

    def _delimiter_command(self) -> bool:
        """A ``DELIMITER x`` line between statements changes the delimiter."""
        if not (self.d.delimiter_command and self.at_line_start):
            return False
        self.at_line_start = False
        m = _DELIMITER_RE.match(self.sql, self.pos)
        if m is None or not self.blank(self.sql[self.start : self.pos]):
            return False
        self.delimiter = m.group(1)
        self.start = self.pos = m.end()
        self.routine = None
        self.at_line_start = True
        return True

    def _custom_delimiter(self) -> bool:
        """Under ``DELIMITER``, the delimiter ends the statement wherever it is."""
        if self.delimiter == ";" or not self.sql.startswith(self.delimiter, self.pos):
            return False
        self._emit(self.pos, self.pos + len(self.delimiter))
        self.pos += len(self.delimiter)
        return True

    def _scanner(self) -> re.Pattern[str]:
        """What to look for next: words matter only inside a routine body."""
        d = self.d
        if self.delimiter != ";":
            return d.scan_delimited(self.delimiter)
        if self.routine is None and d.scan is not None:
            first = self.skip(self.start)
            if first < self.n and self.sql[first] != "\n":
                self.routine = bool(
                    (d.compound_blocks and _ROUTINE_RE.match(self.sql, first))
                    or (d.begin_atomic and _ATOMIC_RE.match(self.sql, first))
                )
        return d.scan if self.routine and d.scan is not None else d.scan_plain

    def _special(self, ch: str) -> None:
        """Step over the construct that starts with ``ch`` at ``pos``."""
        sql, d, pos = self.sql, self.d, self.pos
        if ch == "\n":
            self.pos, self.at_line_start = pos + 1, True
        elif ch in "'\"`":
            escaped = d.backslash_escapes and ch != "`"
            if ch == "'" and d.dollar_quotes and pos > 0 and sql[pos - 1] in "eE":
                escaped = True
            self.pos = _skip_string(sql, pos, ch, escaped)
        elif (ch == "-" and dash_comment(sql, pos, d.hash_comments)) or (ch == "#" and d.hash_comments):
            end = sql.find("\n", pos)
            self.pos = self.n if end < 0 else end
        elif ch == "/" and sql.startswith("/*", pos):
            self.pos = _skip_block_comment(sql, pos, d.nested_comments)
        elif ch == "$":
            self.pos = self._dollar_quote(pos)
        elif ch == ";":
            if self.delimiter == ";" and self.depth <= 0 and self.parens <= 0:
                self._emit(pos, pos + 1)
            self.pos = pos + 1
        elif ch in "()" and d.parentheses:
            self.parens += 1 if ch == "(" else -1
            self.pos = pos + 1
        elif ch.isalpha() or ch == "_":
            self._word()
        else:
            self.pos = pos + 1

    def _dollar_quote(self, pos: int) -> int:
        """Past a ``$tag$ ... $tag$`` string, or one character on."""
        sql = self.sql
        dm = _DOLLAR_RE.match(sql, pos)
        if dm is None or (pos > 0 and (sql[pos - 1].isalnum() or sql[pos - 1] == "_")):
            return pos + 1
        close = sql.find(dm.group(0), dm.end())
        return self.n if close < 0 else close + len(dm.group(0))

    def _word(self) -> None:
        """A word inside a routine body: BEGIN/CASE open a block, END closes one."""
        wm = _WORD_RE.match(self.sql, self.pos)
        assert wm is not None
        word = wm.group(0).upper()
        self.pos = wm.end()
        if self.delimiter != ";" or word not in ("BEGIN", "CASE", "END") or not self.routine:
            return
        nxt = _WORD_RE.match(self.sql, self.skip(self.pos))
        following = nxt.group(0).upper() if nxt else ""
        if word == "BEGIN":
            if self.d.begin_atomic and not self.d.compound_blocks and following != "ATOMIC":
                return
            self.depth += 1
        elif word == "CASE":
            self.depth += 1 if self.depth > 0 else 0
        elif word == "END" and self.depth > 0 and following not in _END_FOLLOWERS:
            self.depth -= 1


_NEAR = re.compile(r"near '(.*)' at line (\d+)", re.S)


def near_own_text(message: str, sent: str) -> str:
    """A syntax error quotes the text from where the parser stopped on
    (``near '...' at line N``, N counted within the statement). In a packet of
    several statements that runs on into the statements after it (the
    journal's bookkeeping): keep only what ``sent``, the failed one, holds."""
    m = _NEAR.search(message)
    if m is None:
        return message
    quoted = m.group(1)
    shown = quoted
    if quoted not in sent:
        shown = next((sent[p:] for p in range(len(sent)) if quoted.startswith(sent[p:])), quoted).rstrip()
    return f"{message[: m.start()]}near '{shown}' at line {m.group(2)} of the statement{message[m.end() :]}"
