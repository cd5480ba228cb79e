"""period_approval

Revision ID: 0007
Revises: 0006

A province's period on its way to the Ministry: submitted, accepted (locked: a new report for it is held) or
returned with a comment; no row is an open period (issue 14).
"""
import sqlalchemy as sa
from alembic import op

from schemas.tables import AwareDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "period_approval",
        sa.Column("province_code", sa.String(2), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("changed_at", AwareDateTime(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("period_approval")
