"""Q&A: questions, votes, moderation actions.

Revision ID: qa_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "qa_0001"
down_revision = "0001_core"
branch_labels = ("qa",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id", name="fk_questions_author_id_users"),
                  nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("original_text", sa.String(2000), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("dismiss_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("merged_into", sa.Integer, nullable=True),
        sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("on_stage", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("votes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_questions_session_id", "questions", ["session_id"])
    op.create_table(
        "votes",
        sa.Column("question_id", sa.Integer, sa.ForeignKey("questions.id", name="fk_votes_question_id_questions"),
                  nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_votes_user_id_users"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("question_id", "user_id", name="pk_votes"),
    )
    op.create_table(
        "moderation_actions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("question_id", sa.Integer,
                  sa.ForeignKey("questions.id", name="fk_moderation_actions_question_id_questions"), nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id", name="fk_moderation_actions_actor_id_users"),
                  nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_moderation_actions_session_id", "moderation_actions", ["session_id"])


def downgrade() -> None:
    op.drop_table("moderation_actions")
    op.drop_table("votes")
    op.drop_index("ix_questions_session_id", "questions")
    op.drop_table("questions")
