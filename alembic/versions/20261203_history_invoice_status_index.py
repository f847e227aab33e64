"""invoices indexed by customer, time and status: the history skips drafts (and counts a date
range) from the index alone, without reading each invoice

Revision ID: a4c8e2f6b1d3
Revises: 9b7e2c4d1a63
Create Date: 2026-12-03 15:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'a4c8e2f6b1d3'
down_revision: str | None = '9b7e2c4d1a63'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_invoices_customer_created_status', 'invoices', ['customer_id', 'created_at', 'status'])
    op.drop_index('ix_invoices_customer_created', table_name='invoices')


def downgrade() -> None:
    op.create_index('ix_invoices_customer_created', 'invoices', ['customer_id', 'created_at'])
    op.drop_index('ix_invoices_customer_created_status', table_name='invoices')
