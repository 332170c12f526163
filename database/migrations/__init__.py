"""Alembic migrations for the ehx database."""
