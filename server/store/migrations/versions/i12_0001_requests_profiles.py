"""Issue 12: requests for more credit than measured, learner profiles, session versions.

Revision ID: i12_0001
Revises: credit_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "i12_0001"
down_revision = "i10_0001_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_credit_requests_user_id_users"),
                  nullable=False, index=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("credit_type", sa.String(20), nullable=False),
        sa.Column("quarters", sa.Integer, nullable=False),
        sa.Column("measured_quarters", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(254), nullable=True),
        sa.Column("note", sa.String(1000), nullable=False, server_default=""),
    )
    op.create_table(
        "learner_profiles",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_learner_profiles_user_id_users"),
                  primary_key=True),
        sa.Column("certificate_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("degree", sa.String(40), nullable=False, server_default=""),
        sa.Column("board", sa.String(80), nullable=False, server_default=""),
        sa.Column("licence_state", sa.String(2), nullable=False, server_default=""),
        sa.Column("timezone", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "session_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conference_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "version", name="uq_session_versions_session_id"),
    )
    with op.batch_alter_table("credit_claims") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("credit_claims") as batch:
        batch.drop_column("session_version")
    op.drop_table("session_versions")
    op.drop_table("learner_profiles")
    op.drop_table("credit_requests")
