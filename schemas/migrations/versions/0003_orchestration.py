"""orchestration (completeness, pre-2025 units)

Revision ID: 0003
Revises: 0002

Tables for who should report (``expected_report``), the pre-2025 districts and the old → 2025 commune mapping
(``district``, ``commune_successor``) and the read-only BI roles whose grants are renewed whenever the views
are re-created (``bi_role``).
"""
import sqlalchemy as sa
from alembic import op

import schemas.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "district",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("old_province_code", sa.String(length=2), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("valid_to", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "commune_successor",
        sa.Column("old_code", sa.String(length=5), nullable=False),
        sa.Column("new_code", sa.String(length=5), nullable=False),
        sa.Column("old_province_code", sa.String(length=2), nullable=False),
        sa.Column("old_district_code", sa.String(length=3), nullable=True),
        sa.Column("new_province_code", sa.String(length=2), nullable=False),
        sa.Column("merge_type", sa.String(length=8), nullable=False),
        sa.Column("targets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("old_code", "new_code"),
    )
    op.create_table(
        "expected_report",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("form", sa.String(length=2), nullable=False),
        sa.Column("unit_key", sa.String(length=160), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("unit_name", sa.Text(), nullable=True),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("refreshed_at", schemas.tables.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("period", "form", "unit_key"),
    )
    with op.batch_alter_table("expected_report", schema=None) as batch_op:
        batch_op.create_index("ix_expected_report_province", ["period", "province_code"], unique=False)
    op.create_table(
        "bi_role",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("created_at", schemas.tables.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("bi_role")
    with op.batch_alter_table("expected_report", schema=None) as batch_op:
        batch_op.drop_index("ix_expected_report_province")
    op.drop_table("expected_report")
    op.drop_table("commune_successor")
    op.drop_table("district")
