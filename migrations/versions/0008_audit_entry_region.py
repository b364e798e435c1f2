"""audit entry region

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 21:36:07.779863

Each audit entry gets the region of the record it is about, so the audit log is scoped by
where the record belongs instead of by who acted. Existing entries are filled in from the
records as they are now (app/audit.py fills new ones at write time, by the same rules).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: Object type → the SQL for its region, given the object's id as {key}.
REGION_OF = {
    'site': 'SELECT community_id FROM sites WHERE id = {key}',
    'response': 'SELECT community_id FROM responses WHERE id = {key}',
    'ticket_batch': 'SELECT community_id FROM ticket_batches WHERE id = {key}',
    'paper_keying': 'SELECT community_id FROM paper_keyings WHERE id = {key}',
    'account': 'SELECT region_id FROM accounts WHERE id = {key}',
    'region': 'SELECT id FROM regions WHERE id = {key}',
    # The lowest region covering the campaign's communities (as they are now: a community
    # added after an old entry was written widens that entry's region, never narrows it):
    # its one community, else their one street, else their one district, else none.
    'campaign': (
        'SELECT CASE WHEN COUNT(DISTINCT c.id) = 1 THEN MIN(c.id)'
        ' WHEN COUNT(DISTINCT s.id) = 1 THEN MIN(s.id)'
        ' WHEN COUNT(DISTINCT s.parent_id) = 1 THEN MIN(s.parent_id) END'
        ' FROM campaign_communities cc JOIN regions c ON c.id = cc.community_id'
        ' JOIN regions s ON s.id = c.parent_id WHERE cc.campaign_id = {key}'),
    # survey_version: no region (every district shares the surveys); stays NULL.
}


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entries_region_id'), ['region_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_entries_region_id_regions'), 'regions', ['region_id'], ['id'])

    # object_id is text. SQLite's CAST never fails (text that is no number becomes 0, which
    # no row has); PostgreSQL's would, so only digits are cast there.
    if op.get_bind().dialect.name == 'postgresql':
        key = "CASE WHEN audit_entries.object_id ~ '^[0-9]{1,18}$' THEN CAST(audit_entries.object_id AS BIGINT) END"
    else:
        key = 'CAST(audit_entries.object_id AS INTEGER)'
    for object_type, region_sql in REGION_OF.items():
        op.execute(sa.text(f'UPDATE audit_entries SET region_id = ({region_sql.format(key=key)}) '
                           'WHERE object_type = :object_type').bindparams(object_type=object_type))


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_entries_region_id_regions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_entries_region_id'))
        batch_op.drop_column('region_id')
