"""scoring schemes per campaign: scheme_settings (the district's numbers for 待填), indicator_entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheme_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.String(length=64), nullable=False),
    sa.Column('fill_ins', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_scheme_settings_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['accounts.id'], name=op.f('fk_scheme_settings_updated_by_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheme_settings')),
    sa.UniqueConstraint('campaign_id', 'scheme_id', name=op.f("uq_scheme_settings_campaign_id_scheme_id"))
    )
    op.create_table('indicator_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.String(length=64), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_indicator_entries_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['regions.id'], name=op.f('fk_indicator_entries_community_id_regions')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['accounts.id'], name=op.f('fk_indicator_entries_entered_by_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_entries')),
    sa.UniqueConstraint('campaign_id', 'scheme_id', 'community_id', 'indicator_id', name="uq_indicator_entries_key")
    )


def downgrade():
    op.drop_table('indicator_entries')
    op.drop_table('scheme_settings')
