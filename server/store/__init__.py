"""Records in SQL: SQLAlchemy Core tables, queries and Alembic migrations."""
