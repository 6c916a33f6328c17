"""Operating migrations: backups and restore, hooks, verification, doctor,
metrics and structured logs. Built on :mod:`migrata.session` and the
backend contract; imported lazily, only by the commands that need them."""
