"""portal_user and audit_event

Revision ID: 0006
Revises: 0005

The accounts of the stewards' portal (a password kept only as its argon2 hash) and the audit trail of who did
what, when and from where (issue 14).
"""
import sqlalchemy as sa
from alembic import op

from schemas.tables import AwareDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_user",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("province_code", sa.String(2)),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("disabled_at", AwareDateTime()),
    )
    op.create_table(
        "audit_event",
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", AwareDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("address", sa.Text()),
        sa.Column("target", sa.Text()),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_table("portal_user")
