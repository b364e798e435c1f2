"""meetings feed a campaign: meetings.campaign_id, responses.meeting_id

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 23:10:34.953974

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_meetings_campaign_id_campaigns'), 'campaigns', ['campaign_id'], ['id'])

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_responses_meeting_id_meetings'), 'meetings', ['meeting_id'], ['id'])



def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_responses_meeting_id_meetings'), type_='foreignkey')
        batch_op.drop_column('meeting_id')

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_meetings_campaign_id_campaigns'), type_='foreignkey')
        batch_op.drop_column('campaign_id')

