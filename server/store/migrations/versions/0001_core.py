"""Core tables: users, conference, sessions, booths, assignments, audit log.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
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
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "conferences",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("conference_id", sa.String(64), sa.ForeignKey("conferences.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accredited", sa.Boolean, nullable=False),
    )
    op.create_table(
        "booths",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("conference_id", sa.String(64), sa.ForeignKey("conferences.id"), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("email", "kind", "target", name="pk_assignments"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    for table in ("audit_log", "assignments", "booths", "sessions", "conferences", "users"):
        op.drop_table(table)
