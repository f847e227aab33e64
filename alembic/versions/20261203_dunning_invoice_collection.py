"""invoice collection fields for off-session renewals and dunning

Invoice: collection_attempts (charges tried) and next_collection_at (when the next is due), with
an index for the dunning job's "what is due" query.

Revision ID: 5d1c0e7a9b42
Revises: e5a1c0a17c5b
Create Date: 2026-12-03 08:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing_portal.models.types


revision: str = '5d1c0e7a9b42'
down_revision: str | None = 'e5a1c0a17c5b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collection_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_collection_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_invoices_collection_due', ['status', 'next_collection_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_collection_due')
        batch_op.drop_column('next_collection_at')
        batch_op.drop_column('collection_attempts')
