"""Database backends: the contract (:mod:`~migrata.backends.base`), one module
per database family, and the registry that picks one by URL scheme
(:mod:`~migrata.backends.registry`)."""
