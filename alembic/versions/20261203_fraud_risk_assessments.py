"""fraud guard: one risk assessment per checkout card charge; the country of saved cards

Revision ID: f7a3d2c1b9e8
Revises: c3e1a2b4d5f6
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import billing_portal.models.types


revision: str = 'f7a3d2c1b9e8'
down_revision: str | None = 'c3e1a2b4d5f6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('risk_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('client_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('card_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('card_brand', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('card_last4', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('card_country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('billing_country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cleared_by', sa.Integer(), nullable=True),
    sa.Column('clear_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['cleared_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_assessments_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index('ix_risk_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_risk_decision_created', ['decision', 'created_at'], unique=False)
        batch_op.create_index('ix_risk_fingerprint_created', ['card_fingerprint', 'created_at'], unique=False)
        batch_op.create_index('ix_risk_ip_created', ['client_ip', 'created_at'], unique=False)

    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_column('country')

    with op.batch_alter_table('risk_assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_ip_created')
        batch_op.drop_index('ix_risk_fingerprint_created')
        batch_op.drop_index('ix_risk_decision_created')
        batch_op.drop_index('ix_risk_customer_created')
        batch_op.drop_index(batch_op.f('ix_risk_assessments_payment_id'))

    op.drop_table('risk_assessments')
