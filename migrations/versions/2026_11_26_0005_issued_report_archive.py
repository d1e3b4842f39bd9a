"""issued report archive: each issued quarterly report (Word, Excel, CSV),
its sha256, who issued it and when; the bytes live in the archive store.
An index on reports (period_id, state) for the dashboard's queries.

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-26 09:11:45.191097
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import supervise.models.types

revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issued_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.Enum('docx', 'xlsx', 'csv', name='export_format', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_by_login', sa.String(length=64), nullable=False),
    sa.Column('issued_at', supervise.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_issued_reports_issued_by_id_users')),
    sa.ForeignKeyConstraint(['period_id'], ['reporting_periods.id'], name=op.f('fk_issued_reports_period_id_reporting_periods'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_issued_reports_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_reports'))
    )
    with op.batch_alter_table('issued_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_reports_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_reports_issued_by_id'), ['issued_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_reports_period_id'), ['period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_reports_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_reports_sha256'), ['sha256'], unique=False)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_period_id_state', ['period_id', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_period_id_state')
    with op.batch_alter_table('issued_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_reports_sha256'))
        batch_op.drop_index(batch_op.f('ix_issued_reports_plan_id'))
        batch_op.drop_index(batch_op.f('ix_issued_reports_period_id'))
        batch_op.drop_index(batch_op.f('ix_issued_reports_issued_by_id'))
        batch_op.drop_index(batch_op.f('ix_issued_reports_issued_at'))

    op.drop_table('issued_reports')
