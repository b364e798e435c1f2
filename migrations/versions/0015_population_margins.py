"""population_margins: a community's residents per age band and per sex in one campaign, for raking

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 04:57:54.380646

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('population_margins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('variable', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('population >= 0', name=op.f('ck_population_margins_population_not_negative')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_population_margins_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['regions.id'], name=op.f('fk_population_margins_community_id_regions')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['accounts.id'], name=op.f('fk_population_margins_entered_by_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_population_margins')),
    sa.UniqueConstraint('campaign_id', 'community_id', 'variable', 'code', name='uq_population_margins_key')
    )


def downgrade():
    op.drop_table('population_margins')
