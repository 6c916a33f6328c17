"""The migration engine: models, sources, planning, running, bookkeeping."""
