"""refunds carry their payment's customer (history reads a customer's refunds through one index);
invoices and payments indexed by customer, status and time (the history filtered by status)

Revision ID: 7b3e9d1f4a20
Revises: f7a3d2c1b9e8
Create Date: 2026-12-03 12:25:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7b3e9d1f4a20'
down_revision: str | None = 'f7a3d2c1b9e8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
    op.execute("UPDATE refunds SET customer_id = (SELECT payments.customer_id FROM payments"
               " WHERE payments.id = refunds.payment_id)")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.alter_column('customer_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_refunds_customer_id_customers', 'customers', ['customer_id'], ['id'])
        batch_op.create_index('ix_refunds_customer_created', ['customer_id', 'created_at'], unique=False)
    op.create_index('ix_invoices_customer_status_created', 'invoices', ['customer_id', 'status', 'created_at'])
    op.create_index('ix_payments_customer_status_created', 'payments', ['customer_id', 'status', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_payments_customer_status_created', table_name='payments')
    op.drop_index('ix_invoices_customer_status_created', table_name='invoices')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_customer_created')
        batch_op.drop_constraint('fk_refunds_customer_id_customers', type_='foreignkey')
        batch_op.drop_column('customer_id')
