"""Schema work that needs SQLAlchemy and alembic (``pip install 'migrata[models]'``):
autogenerate, diff, squash and the import of Alembic projects. Nothing here is
imported by the core commands; each command imports what it needs, lazily."""
