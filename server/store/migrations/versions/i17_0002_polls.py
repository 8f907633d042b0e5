"""Polls of a session and their answers, one per person (issue 17).

Revision ID: i17_0002_polls
Revises: i17_0001_captions
"""

import sqlalchemy as sa
from alembic import op

revision = "i17_0002_polls"
down_revision = "i17_0001_captions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("released", sa.Boolean, nullable=False),
        sa.Column("attention", sa.Boolean, nullable=False),
        sa.Column("opened_by", sa.Integer, sa.ForeignKey("users.id", name="fk_polls_opened_by_users"), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_polls_session", "polls", ["session"])
    op.create_table(
        "poll_answers",
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("polls.id", name="fk_poll_answers_poll_id_polls"),
                  nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_poll_answers_user_id_users"),
                  nullable=False),
        sa.Column("option", sa.Integer, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("poll_id", "user_id", name="pk_poll_answers"),
    )


def downgrade() -> None:
    op.drop_table("poll_answers")
    op.drop_index("ix_polls_session", table_name="polls")
    op.drop_table("polls")
