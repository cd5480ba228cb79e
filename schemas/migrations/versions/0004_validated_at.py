"""submission.validated_at

Revision ID: 0004
Revises: 0003

When the validate stage committed a submission's rule findings.  Publishing settles only submissions that have
it (or that have no form, so no rules to run), so a run never publishes a submission another run read after
this run's validation chose its work; validation claims a submission by setting it, so two runs never write
its findings twice.
"""
import sqlalchemy as sa
from alembic import op

import schemas.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validated_at", schemas.tables.AwareDateTime(), nullable=True))
    # submissions settled before this migration were validated by the run that settled them
    op.execute("UPDATE submission SET validated_at = loaded_at WHERE status <> 'pending'")


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("validated_at")
