"""Core tables: accounts, the imported conference, role assignments, the audit log.

Feature modules (``store/qa.py``, ``store/hall.py``, ...) declare their tables on the same
``metadata``; each table's migration lives in ``store/migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["assignments", "audit_log", "booths", "conferences", "metadata", "sessions", "users"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False, server_default=""),
    sa.Column("profession", sa.String(40), nullable=False, server_default="other"),
    sa.Column("organisation", sa.String(200), nullable=False, server_default=""),
    sa.Column("npi", sa.String(10), nullable=False, server_default=""),
    sa.Column("board_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("licence", sa.String(40), nullable=False, server_default=""),
    sa.Column("nabp_eprofile_id", sa.String(10), nullable=False, server_default=""),
    sa.Column("dob_month", sa.Integer, nullable=True),
    sa.Column("dob_day", sa.Integer, nullable=True),
    sa.Column("report_permission", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

conferences = sa.Table(
    "conferences",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    # The validated conference document with absolute times (see store/catalogue.py).
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("conference_id", sa.String(64), sa.ForeignKey("conferences.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("accredited", sa.Boolean, nullable=False),
)

booths = sa.Table(
    "booths",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("conference_id", sa.String(64), sa.ForeignKey("conferences.id"), nullable=False),
    sa.Column("org", sa.String(200), nullable=False),
)

# Who is faculty or moderator of a session, or staff of a booth. By email, so that an
# assignment can be made before the person's account exists.
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # faculty | moderator | staff
    sa.Column("target", sa.String(64), nullable=False),  # session id or booth id
    sa.PrimaryKeyConstraint("email", "kind", "target"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
)
