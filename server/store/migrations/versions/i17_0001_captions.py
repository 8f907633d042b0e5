"""Live captions: a session's WebVTT cues and its caption key (issue 17).

Revision ID: i17_0001_captions
Revises: i10_0001_merge_heads
"""

import sqlalchemy as sa
from alembic import op

revision = "i17_0001_captions"
down_revision = "i13_0001_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caption_cues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_caption_cues_session", "caption_cues", ["session"])
    op.create_table(
        "caption_keys",
        sa.Column("session", sa.String(200), primary_key=True),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", name="fk_caption_keys_created_by_users"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("caption_keys")
    op.drop_index("ix_caption_cues_session", table_name="caption_cues")
    op.drop_table("caption_cues")
