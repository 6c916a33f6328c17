"""Small helpers over SQL text shared by the backends: comments, keywords,
and a statement splitter for the server dialects. Private to
``migrata.backends``.
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


def split_sql(sql: str, d: SplitDialect) -> list[tuple[str, int]]:
    """Cut ``sql`` into (statement, 1-based line) pairs the way the dialect's
    own client does: quotes, comments, dollar quotes, ``DELIMITER`` and
    ``BEGIN ... END`` bodies are respected; blank statements are dropped."""
    out: list[tuple[str, int]] = []
    n = len(sql)
    delimiter = ";"
    start = 0  # start of the current statement
    pos = 0
    depth = 0  # BEGIN/CASE ... END nesting inside a routine body
    parens = 0  # open parentheses (dialects whose client counts them)
    routine = None  # None: not known yet for this statement; True/False once known
    at_line_start = True

    def skip(at: int) -> int:
        return skip_space_and_comments(sql, at, hash_comments=d.hash_comments, nested=d.nested_comments)

    def emit(end: int, resume: int) -> None:
        nonlocal start, depth, routine, parens
        chunk = sql[start:end]
        if not is_blank(chunk, hash_comments=d.hash_comments, nested=d.nested_comments):
            first = skip(start)
            out.append((sql[first:end].strip(), line_of(sql, first)))
        start = resume
        depth = parens = 0
        routine = None

    while pos < n:
        if d.delimiter_command and at_line_start:
            m = _DELIMITER_RE.match(sql, pos)
            if m and is_blank(sql[start:pos], hash_comments=d.hash_comments, nested=d.nested_comments):
                delimiter = m.group(1)
                start = pos = m.end()
                routine = None
                continue
        at_line_start = False
        if delimiter != ";" and sql.startswith(delimiter, pos):
            emit(pos, pos + len(delimiter))
            pos += len(delimiter)
            continue
        if routine is None and d.scan is not None and delimiter == ";":
            first = skip(start)
            if first < n and sql[first] != "\n":
                routine = bool(
                    (d.compound_blocks and _ROUTINE_RE.match(sql, first))
                    or (d.begin_atomic and _ATOMIC_RE.match(sql, first))
                )
        if delimiter != ";":
            scan = d.scan_delimited(delimiter)
        elif routine and d.scan is not None:
            scan = d.scan
        else:
            scan = d.scan_plain
        m = scan.search(sql, pos)
        if m is None:
            break
        pos = m.start()
        if delimiter != ";" and sql.startswith(delimiter, pos):
            continue  # the delimiter: emitted at the top of the loop
        ch = sql[pos]
        if ch == "\n":
            pos += 1
            at_line_start = True
        elif ch == "'" or ch == '"' or ch == "`":
            escaped = d.backslash_escapes and ch != "`"
            if ch == "'" and d.dollar_quotes and pos > 0 and sql[pos - 1] in "eE":
                escaped = True
            pos = _skip_string(sql, pos, ch, escaped)
        elif ch == "-" and dash_comment(sql, pos, d.hash_comments):
            end = sql.find("\n", pos)
            pos = n if end < 0 else end
        elif ch == "#" and d.hash_comments:
            end = sql.find("\n", pos)
            pos = n if end < 0 else end
        elif ch == "/" and sql.startswith("/*", pos):
            pos = _skip_block_comment(sql, pos, d.nested_comments)
        elif ch == "$":
            dm = _DOLLAR_RE.match(sql, pos)
            if dm is None or (pos > 0 and (sql[pos - 1].isalnum() or sql[pos - 1] == "_")):
                pos += 1
                continue
            close = sql.find(dm.group(0), dm.end())
            pos = n if close < 0 else close + len(dm.group(0))
        elif ch == ";":
            if delimiter == ";" and depth <= 0 and parens <= 0:
                emit(pos, pos + 1)
            pos += 1
        elif (ch == "(" or ch == ")") and d.parentheses:
            parens += 1 if ch == "(" else -1
            pos += 1
        elif ch.isalpha() or ch == "_":
            wm = _WORD_RE.match(sql, pos)
            assert wm is not None
            word = wm.group(0).upper()
            pos = wm.end()
            if delimiter != ";" or word not in ("BEGIN", "CASE", "END") or not routine:
                continue
            nxt = _WORD_RE.match(sql, skip(pos))
            following = nxt.group(0).upper() if nxt else ""
            if word == "BEGIN":
                if d.begin_atomic and not d.compound_blocks and following != "ATOMIC":
                    continue
                depth += 1
            elif word == "CASE":
                depth += 1 if depth > 0 else 0
            elif word == "END" and depth > 0 and following not in _END_FOLLOWERS:
                depth -= 1
        else:
            pos += 1
    if start < n:
        emit(n, n)
    return out
