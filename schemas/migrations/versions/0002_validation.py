"""validation lifecycle (waivers)

Revision ID: 0002
Revises: 0001

Adds what the steward's loop needs: ``validation_finding.stage`` (``read`` for findings written while reading a
workbook, ``validate`` for the rule engine's, so re-validating a pending submission replaces only its own),
``finding_waiver`` (who accepted which finding knowingly, when and why; kept for audit) and ``validation_run``
(one row per validation stage, with the path of its Great Expectations Data Docs).
"""
import sqlalchemy as sa
from alembic import op

import schemas.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("validation_finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=12), nullable=True))
    op.create_table(
        "finding_waiver",
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("waived_by", sa.Text(), nullable=False),
        sa.Column("waived_at", schemas.tables.AwareDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["validation_finding.finding_id"]),
        sa.PrimaryKeyConstraint("finding_id"),
    )
    op.create_table(
        "validation_run",
        sa.Column("validation_run_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", schemas.tables.AwareDateTime(), nullable=False),
        sa.Column("finished_at", schemas.tables.AwareDateTime(), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=True),
        sa.Column("findings", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("data_docs", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("validation_run_id"),
    )


def downgrade() -> None:
    op.drop_table("validation_run")
    op.drop_table("finding_waiver")
    with op.batch_alter_table("validation_finding", schema=None) as batch_op:
        batch_op.drop_column("stage")
