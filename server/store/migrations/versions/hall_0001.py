"""Exhibit hall: chat, private threads, leads, anonymous visits, downloads, bans, files.

Revision ID: hall_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "hall_0001"
down_revision = "0001_core"
branch_labels = ("hall",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booth_threads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("visitor_id", sa.Integer, sa.ForeignKey("users.id", name="fk_booth_threads_visitor_id_users"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("booth", "visitor_id", name="uq_booth_threads_booth_visitor"),
    )
    op.create_table(
        "booth_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("thread_id", sa.Integer,
                  sa.ForeignKey("booth_threads.id", name="fk_booth_messages_thread_id_booth_threads"), nullable=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id", name="fk_booth_messages_author_id_users"),
                  nullable=False),
        sa.Column("from_staff", sa.Boolean, nullable=False),
        sa.Column("staff_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Integer, nullable=True),
    )
    op.create_index("ix_booth_messages_booth", "booth_messages", ["booth"])
    op.create_table(
        "booth_thread_reads",
        sa.Column("thread_id", sa.Integer,
                  sa.ForeignKey("booth_threads.id", name="fk_booth_thread_reads_thread_id_booth_threads"),
                  nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_booth_thread_reads_user_id_users"),
                  nullable=False),
        sa.Column("last_read_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("thread_id", "user_id", name="pk_booth_thread_reads"),
    )
    op.create_table(
        "booth_leads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_booth_leads_user_id_users"),
                  nullable=False),
        sa.Column("fields", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        sa.Column("profession", sa.String(40), nullable=False, server_default=""),
        sa.Column("organisation", sa.String(200), nullable=False, server_default=""),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("booth", "user_id", name="uq_booth_leads_booth_user"),
    )
    op.create_table(
        "booth_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("visitor", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_booth_visits_booth", "booth_visits", ["booth"])
    op.create_table(
        "booth_downloads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_booth_downloads_booth", "booth_downloads", ["booth"])
    op.create_table(
        "booth_bans",
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_booth_bans_user_id_users"),
                  nullable=False),
        sa.Column("banned_by", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("booth", "user_id", name="pk_booth_bans"),
    )
    op.create_table(
        "booth_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booth", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("stored_name", sa.String(100), nullable=False),
        sa.Column("uploaded_by", sa.Integer, nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_booth_files_booth", "booth_files", ["booth"])


def downgrade() -> None:
    for index, table in (("ix_booth_files_booth", "booth_files"), ("ix_booth_downloads_booth", "booth_downloads"),
                         ("ix_booth_visits_booth", "booth_visits"), ("ix_booth_messages_booth", "booth_messages")):
        op.drop_index(index, table_name=table)
    for table in ("booth_files", "booth_bans", "booth_downloads", "booth_visits", "booth_leads",
                  "booth_thread_reads", "booth_messages", "booth_threads"):
        op.drop_table(table)
