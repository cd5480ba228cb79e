"""reminder

Revision ID: 0009
Revises: 0007

The deadline reminders sent by e-mail or written as drafts, one row per expected report reminded of (period, form,
unit, kind before/after the deadline), so that none is sent twice (issue 15, docs/reminders.md).
"""
import sqlalchemy as sa
from alembic import op

from schemas.tables import AwareDateTime

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("form", sa.String(2), primary_key=True),
        sa.Column("unit_key", sa.String(160), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("province_code", sa.String(2), nullable=False),
        sa.Column("deadline", AwareDateTime(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("to_department", sa.Boolean(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("draft_path", sa.Text()),
        sa.Column("claimed_at", AwareDateTime(), nullable=False),
        sa.Column("sent_at", AwareDateTime()),
        sa.Column("detail", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("reminder")
