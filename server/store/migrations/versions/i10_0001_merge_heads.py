"""Join the four feature branches into one head: later migrations form one line.

Revision ID: i10_0001_merge_heads
Revises: attendance_0001, credit_0001, hall_0001, qa_0001
"""

revision = "i10_0001_merge_heads"
down_revision = ("attendance_0001", "credit_0001", "hall_0001", "qa_0001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No schema change: a merge point only."""


def downgrade() -> None:
    """No schema change: a merge point only."""
