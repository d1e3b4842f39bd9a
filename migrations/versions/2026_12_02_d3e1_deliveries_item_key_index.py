"""deliveries by item

The daily reminder scan looks up which deliveries are already recorded for
the items it reminds of today (`deliveries.item_key IN (...)`). The unique
key begins with the recipient, so without an index of its own each lookup
read the whole table, which grows with every day of reminders.

Revision ID: d3e1
Revises: c9a1
Create Date: 2026-12-02 12:20:00
"""
from __future__ import annotations

from alembic import op

revision = "d3e1"
down_revision = "c9a1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_item_key"), ["item_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_item_key"))
