"""Alembic migrations for every domain's tables (run with ``techbridge db upgrade``)."""
