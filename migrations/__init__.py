"""Alembic environment: every table is created here, never by `create_all`."""
