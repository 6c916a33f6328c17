"""Moving data: resumable backfills (:mod:`.backfill`, behind ``ctx.backfill``),
and loading/dumping table rows (:mod:`.load`, behind ``migrata data``).
Nothing here is imported until a migration backfills or a data command runs
(:class:`RowError`, public, lives here so that ``import migrata`` loads none
of the modules.)
"""

__all__ = ["RowError"]


class RowError(Exception):
    """Raised by a backfill's row function: the row counts as failed (its key
    is reported, the message is not: it may hold the row's values)."""
