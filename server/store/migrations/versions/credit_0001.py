"""Credit: disclosure acknowledgements, evaluations, claims, certificates.

Revision ID: credit_0001
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "credit_0001"
down_revision = "0001_core"
branch_labels = ("credit",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosure_acks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_disclosure_acks_user_id_users"),
                  nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "session_id", "version", name="uq_disclosure_acks_user_id"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_evaluations_user_id_users"),
                  nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "session_id", name="uq_evaluations_user_id"),
    )
    op.create_table(
        "credit_claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_credit_claims_user_id_users"),
                  nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("credit_type", sa.String(20), nullable=False),
        sa.Column("basis", sa.String(10), nullable=False),
        sa.Column("quarters", sa.Integer, nullable=False),
        sa.Column("attested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "session_id", "credit_type", name="uq_credit_claims_user_id"),
    )
    op.create_index("ix_credit_claims_session_id", "credit_claims", ["session_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_certificates_user_id_users"),
                  nullable=False),
        sa.Column("conference_id", sa.String(64), nullable=False),
        sa.Column("credit_type", sa.String(20), nullable=False),
        sa.Column("quarters", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("activity", sa.String(300), nullable=False),
        sa.Column("dates", sa.String(100), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("code", name="uq_certificates_code"),
    )
    op.create_index("ix_certificates_user_id", "certificates", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_certificates_user_id", "certificates")
    op.drop_table("certificates")
    op.drop_index("ix_credit_claims_session_id", "credit_claims")
    op.drop_table("credit_claims")
    op.drop_table("evaluations")
    op.drop_table("disclosure_acks")
