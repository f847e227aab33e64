"""sessions: one-time sign-in grants, the idle lifetime and the role a session was opened with;
portal sign-in links (portal_sessions) and the return URL of a session they open

Sessions opened before this revision lived in a cookie page scripts could read: they are ended
(everyone signs in once more, and gets the httpOnly cookie).

Revision ID: ee120614dac6
Revises: 7a3c9e1d5b20
Create Date: 2026-12-08 00:16:43.868856
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import billing_portal.models.types


revision: str = 'ee120614dac6'
down_revision: str | None = '7a3c9e1d5b20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('session_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('session_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_grants_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_grants_token_hash'), ['token_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_session_grants_user_id'), ['user_id'], unique=False)

    op.execute("DELETE FROM auth_sessions")
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False))
        batch_op.add_column(sa.Column('last_seen_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False))
        batch_op.add_column(sa.Column('return_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))

    op.create_table('portal_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('return_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_by_key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', billing_portal.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_key_id'], ['seller_api_keys.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('portal_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_sessions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_sessions_token_hash'), ['token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('portal_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_sessions_token_hash'))
        batch_op.drop_index(batch_op.f('ix_portal_sessions_customer_id'))

    op.drop_table('portal_sessions')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('return_url')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('role')

    with op.batch_alter_table('session_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_grants_user_id'))
        batch_op.drop_index(batch_op.f('ix_session_grants_token_hash'))
        batch_op.drop_index(batch_op.f('ix_session_grants_expires_at'))

    op.drop_table('session_grants')
