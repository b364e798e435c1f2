"""responses: index (campaign_id, network_hash, submitted_at) for the burst check at submit

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_campaign_network_time', ['campaign_id', 'network_hash', 'submitted_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_campaign_network_time')
