"""Schema work that needs SQLAlchemy and alembic (``pip install 'migrata[models]'``):
autogenerate, diff, squash and the import of Alembic projects.

Imported only by the commands that need it (``migrata autogenerate``,
``migrata diff``, ``migrata import alembic``): nothing else in migrata imports
SQLAlchemy or alembic at start; each command imports what it needs, lazily.
"""
