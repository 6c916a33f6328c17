"""Moving data: resumable backfills (:mod:`.backfill`, behind ``ctx.backfill``),
and loading/dumping table rows (:mod:`.load`, behind ``migrata data``).
Nothing here is imported until a migration backfills or a data command runs."""
