"""Schema from models: autogenerate and diff (SQLAlchemy + alembic).

Imported only by the commands that need it (``migrata autogenerate``,
``migrata diff``): nothing else in migrata imports SQLAlchemy or alembic.
Install them with ``pip install 'migrata[models]'``.
"""
