"""follow_up

Revision ID: 0010
Revises: 0009

Outliers and follow-up (issue 15): a steward's marks on warnings (confirmed, corrected, to follow up), each kept,
and when each period's outlier analysis last ran.
"""
import sqlalchemy as sa
from alembic import op

from schemas.tables import AwareDateTime
from schemas.views import VIEWS

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finding_follow_up",
        sa.Column("follow_up_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("validation_finding.finding_id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("marked_by", sa.Text(), nullable=False),
        sa.Column("marked_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_follow_up_finding", "finding_follow_up", ["finding_id"])
    op.create_table(
        "outlier_analysis",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("analysed_at", AwareDateTime(), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("value_count", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    # the views go first (mart_follow_ups reads finding_follow_up, and views read it in turn: PostgreSQL refuses to
    # drop a view or table another view reads); views are derived objects, re-created after every upgrade
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("outlier_analysis")
    op.drop_index("ix_follow_up_finding", table_name="finding_follow_up")
    op.drop_table("finding_follow_up")
