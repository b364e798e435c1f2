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


# Built CONCURRENTLY on PostgreSQL, outside the migration's transaction: responses keep coming
# in while it builds (docs/deployment.md migrates with the old servers still serving). An index
# needs no table rebuild on SQLite, so no batch mode either.
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index('ix_responses_campaign_network_time', 'responses',
                        ['campaign_id', 'network_hash', 'submitted_at'], unique=False,
                        postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index('ix_responses_campaign_network_time', table_name='responses', postgresql_concurrently=True)
