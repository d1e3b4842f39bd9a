"""issued report next steps

The 下一步工作要求 a coordinator writes before issuing a quarterly
supervision report (季度督查通报): printed as its last section and kept with
the issued file, so the archive says what was asked of the units.

Revision ID: 20261202_next_steps
Revises: 0007
Create Date: 2026-12-02 08:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261202_next_steps"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issued_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_steps", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("issued_reports", schema=None) as batch_op:
        batch_op.drop_column("next_steps")
