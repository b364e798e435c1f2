"""answer_tallies: counts of counted answers per (campaign, community, item, value), kept at submit

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 03:27:48.548978

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('answer_tallies',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'community_id', 'item', 'value', name=op.f('pk_answer_tallies'))
    )
    # The answers already stored, counted once here; from now on every write keeps the counts
    # (app/evaluation/tallies.py). Only answers of responses that count (not excluded).
    op.execute(
        "INSERT INTO answer_tallies (campaign_id, community_id, item, value, n) "
        "SELECT a.campaign_id, a.community_id, a.item, a.value, count(*) "
        "FROM answers a JOIN responses r ON r.id = a.response_id "
        "WHERE r.exclusion_reason IS NULL "
        "GROUP BY a.campaign_id, a.community_id, a.item, a.value"
    )


def downgrade():
    op.drop_table('answer_tallies')
