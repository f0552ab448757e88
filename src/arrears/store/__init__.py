"""The store: SQLAlchemy schema, Alembic migrations, ledger use cases and snapshot reading.

SQLite (embedded default) and PostgreSQL (production) share one schema and one test suite.
"""
