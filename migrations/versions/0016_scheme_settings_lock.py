"""scheme settings: the 定稿 lock (who filed a campaign's scores under a scheme, and when)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scheme_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_scheme_settings_locked_by_id_accounts'), 'accounts',
                                    ['locked_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('scheme_settings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_scheme_settings_locked_by_id_accounts'), type_='foreignkey')
        batch_op.drop_column('locked_by_id')
        batch_op.drop_column('locked_at')
