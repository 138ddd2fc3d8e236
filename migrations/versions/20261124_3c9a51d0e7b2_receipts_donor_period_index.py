"""receipts: index (donor_key, period_year) for the annual run's "already issued?" check

Revision ID: 3c9a51d0e7b2
Revises: f172c0280b91
Create Date: 2026-11-24 06:05:00
"""

from alembic import op

revision = "3c9a51d0e7b2"
down_revision = "f172c0280b91"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_receipts_donor_period", "receipts", ["donor_key", "period_year"], unique=False)


def downgrade():
    op.drop_index("ix_receipts_donor_period", table_name="receipts")
