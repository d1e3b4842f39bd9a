"""draft plans, first reporting period, task sources

A plan is a draft until a coordinator publishes it, and units report from
the plan's first period on (issue 11). Plans held before this migration
are published and keep reporting from their first period, as before. Tasks
gain where they come from (a plan, a leader's instruction, a meeting
decision, a proposal) with its document, the source paragraph, the parser's
warnings and the unit names still to be matched to the directory.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 07:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import supervise.models.types

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('draft', 'published', name='plan_status', native_enum=False, create_constraint=True, length=32), server_default='published', nullable=False))
        batch_op.add_column(sa.Column('kind', sa.Enum('plan', 'items', name='plan_kind', native_enum=False, create_constraint=True, length=32), server_default='plan', nullable=False))
        batch_op.add_column(sa.Column('first_period', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('published_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('source_filename', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_plans_status'), ['status'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.Enum('plan', 'leader_instruction', 'meeting_decision', 'proposal', 'other', name='task_source', native_enum=False, create_constraint=True, length=32), server_default='plan', nullable=False))
        batch_op.add_column(sa.Column('source_document_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_issued_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('source_text', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('pending_units', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('starts_on', sa.Date(), nullable=True))

    # Plans held already report from their first period, as they did.
    plans = sa.table('plans', sa.column('id', sa.Integer), sa.column('first_period', sa.String),
                     sa.column('period_start', sa.Date))
    periods = sa.table('reporting_periods', sa.column('plan_id', sa.Integer), sa.column('code', sa.String),
                       sa.column('starts_on', sa.Date))
    first = (
        sa.select(periods.c.code).where(periods.c.plan_id == plans.c.id)
        .order_by(periods.c.starts_on).limit(1).scalar_subquery()
    )
    op.execute(plans.update().values(first_period=first))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('starts_on')
        batch_op.drop_column('pending_units')
        batch_op.drop_column('warnings')
        batch_op.drop_column('source_text')
        batch_op.drop_column('source_issued_on')
        batch_op.drop_column('source_document_number')
        batch_op.drop_constraint('task_source', type_='check')
        batch_op.drop_column('source')

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plans_status'))
        batch_op.drop_column('warnings')
        batch_op.drop_column('source_filename')
        batch_op.drop_column('published_at')
        batch_op.drop_column('first_period')
        batch_op.drop_constraint('plan_kind', type_='check')
        batch_op.drop_constraint('plan_status', type_='check')
        batch_op.drop_column('kind')
        batch_op.drop_column('status')
