"""invoices keep their tax rule: rounding of line taxes and the reverse-charge note

Revision ID: 7a3c9e1d5b20
Revises: e7b1c3d5f902
Create Date: 2026-12-08 00:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '7a3c9e1d5b20'
down_revision: str | None = 'e7b1c3d5f902'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('invoices') as batch:
        batch.add_column(sa.Column('tax_rounding', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                   server_default='half_up'))
        batch.add_column(sa.Column('tax_note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('invoices') as batch:
        batch.drop_column('tax_note')
        batch.drop_column('tax_rounding')
