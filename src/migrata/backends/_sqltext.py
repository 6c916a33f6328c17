"""Small helpers over SQL text shared by the backends: comments and keywords.

Private to ``migrata.backends``; concrete backends reach these through
``migrata.backends.base``.
"""

from __future__ import annotations

import re

_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def skip_space_and_comments(sql: str, pos: int = 0, *, hash_comments: bool = False) -> int:
    """Index of the first character at or after ``pos`` that is neither
    whitespace nor inside a comment (``--``, ``/* */``, and ``#`` if asked)."""
    n = len(sql)
    while pos < n:
        ch = sql[pos]
        if ch.isspace():
            pos += 1
        elif sql.startswith("--", pos) or (hash_comments and ch == "#"):
            end = sql.find("\n", pos)
            pos = n if end < 0 else end + 1
        elif sql.startswith("/*", pos) and not sql.startswith("/*!", pos):
            end = sql.find("*/", pos + 2)
            pos = n if end < 0 else end + 2
        else:
            break
    return pos


def is_blank(sql: str, *, hash_comments: bool = False) -> bool:
    """True when ``sql`` holds only whitespace, comments and semicolons."""
    pos = 0
    while True:
        pos = skip_space_and_comments(sql, pos, hash_comments=hash_comments)
        if pos < len(sql) and sql[pos] == ";":
            pos += 1
            continue
        return pos >= len(sql)


def leading_keywords(sql: str, count: int = 3, *, hash_comments: bool = False) -> list[str]:
    """The first ``count`` words of a statement, upper-cased, comments skipped."""
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
