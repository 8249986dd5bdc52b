"""Alembic migrations of the registry schema (run by :meth:`ModelStore.open`)."""
