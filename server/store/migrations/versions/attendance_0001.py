"""Attendance: media evidence, tab checkpoints, page stretches, attention prompts, server instances.

Revision ID: attendance_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "attendance_0001"
down_revision = "0001_core"
branch_labels = ("attendance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("started", sa.Boolean, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("instance", sa.String(32), nullable=False),
    )
    op.create_index("ix_media_evidence_user_session", "media_evidence", ["user_id", "session_id"])
    op.create_index("ix_media_evidence_session", "media_evidence", ["session_id"])
    op.create_index("ix_media_evidence_instance", "media_evidence", ["instance"])
    op.create_table(
        "watch_tabs",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("tab", sa.String(64), nullable=False),
        sa.Column("last", sa.Double, nullable=False),
        sa.Column("watching", sa.Boolean, nullable=False),
        sa.Column("start", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("session_id", "user_id", "tab", name="pk_watch_tabs"),
    )
    op.create_index("ix_watch_tabs_user_session", "watch_tabs", ["user_id", "session_id"])
    op.create_table(
        "watch_stretches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("tab", sa.String(64), nullable=False),
        sa.Column("start", sa.Double, nullable=False),
        sa.Column("end", sa.Double, nullable=False),
    )
    op.create_index("ix_watch_stretches_user_session", "watch_stretches", ["user_id", "session_id"])
    op.create_index("ix_watch_stretches_session", "watch_stretches", ["session_id"])
    op.create_table(
        "attention_prompts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("shown_at", sa.Double, nullable=False),
        sa.Column("answered_at", sa.Double, nullable=True),
    )
    op.create_index("ix_attention_prompts_user_session", "attention_prompts", ["user_id", "session_id"])
    op.create_table(
        "attendance_instances",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("seen_at", sa.Double, nullable=False),
        sa.Column("seen_wall", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attendance_instances")
    op.drop_index("ix_attention_prompts_user_session", "attention_prompts")
    op.drop_table("attention_prompts")
    op.drop_index("ix_watch_stretches_session", "watch_stretches")
    op.drop_index("ix_watch_stretches_user_session", "watch_stretches")
    op.drop_table("watch_stretches")
    op.drop_index("ix_watch_tabs_user_session", "watch_tabs")
    op.drop_table("watch_tabs")
    op.drop_index("ix_media_evidence_instance", "media_evidence")
    op.drop_index("ix_media_evidence_session", "media_evidence")
    op.drop_index("ix_media_evidence_user_session", "media_evidence")
    op.drop_table("media_evidence")
