"""indicator_value.note

Revision ID: 0005
Revises: 0004

The remark typed in column (5) Ghi chú beside a value (SPEC §6), as the reader returns it; NULL when the cell is
empty.  The cross-period rule ``period.cumulative_fell`` reads it here instead of opening the archived workbook
again.  Values recorded before this migration have no remark stored (NULL).
"""
import sqlalchemy as sa
from alembic import op

from schemas.views import VIEWS

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    # the views go first: PostgreSQL refuses to drop a column a view reads, and SQLite re-creates the table, which
    # it refuses while a view reads the table.  Views are derived objects, re-created after every upgrade.
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.drop_column("note")
