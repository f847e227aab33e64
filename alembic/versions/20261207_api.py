"""REST API: seller API keys, kept Idempotency-Key answers, customers.external_id

Revision ID: b7d2e9f4c1a8
Revises: a4c8e2f6b1d3
Create Date: 2026-12-07 20:43:50.548070
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import billing_portal.models.types


revision: str = 'b7d2e9f4c1a8'
down_revision: str | None = 'a4c8e2f6b1d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('seller_api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('created_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('seller_api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seller_api_keys_token_hash'), ['token_hash'], unique=True)

    op.create_table('api_idempotency_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['seller_api_keys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_id', 'idempotency_key', name='uq_api_idempotency_key')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.create_unique_constraint('uq_customers_external_id', ['external_id'])



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customers_external_id', type_='unique')
        batch_op.drop_column('external_id')

    op.drop_table('api_idempotency_records')
    with op.batch_alter_table('seller_api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seller_api_keys_token_hash'))

    op.drop_table('seller_api_keys')
