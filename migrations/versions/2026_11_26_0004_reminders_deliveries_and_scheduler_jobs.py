"""reminders: deliveries, scheduler jobs, per-plan reminder rules

The unique constraint on deliveries is what keeps a reminder from going out
twice; scheduler_jobs records each job's last and next run.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 09:12:49.279874
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import supervise.models.types

revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduler_jobs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('trigger', sa.String(length=255), nullable=False),
    sa.Column('next_run_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=16), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('last_result', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_jobs'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=120), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('in_app', 'email', 'webhook', name='channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sending', 'sent', 'failed', 'abandoned', name='delivery_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', supervise.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_deliveries_notification_id_notifications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_deliveries_recipient_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_deliveries_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('recipient_id', 'item_key', 'rule', 'step', 'channel', name=op.f('uq_deliveries_recipient_id_item_key_rule_step_channel'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_task_id'), ['task_id'], unique=False)

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_rules', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('reminder_rules')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_task_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_state'))
        batch_op.drop_index(batch_op.f('ix_deliveries_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_next_attempt_at'))

    op.drop_table('deliveries')
    op.drop_table('scheduler_jobs')
