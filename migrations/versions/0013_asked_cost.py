"""asked the cost: when a person first asked what BPU costs (the calculator, or the cost typed or tapped), for the
dashboard's funnel, kept in the index the funnel counts from; and how many of the people erased had asked it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 19:25:00.000000
"""

import sqlalchemy as sa
from alembic import op

import bot.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AUDIENCE = "role IS NULL"  # as in 0012: the people the funnel counts


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asked_cost_at", bot.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_contacts_created_at_occupation_audience")
        batch_op.create_index(
            "ix_contacts_created_at_occupation_audience",
            ["created_at", "occupation", "asked_cost_at"],
            unique=False,
            sqlite_where=sa.text(AUDIENCE),
            postgresql_where=sa.text(AUDIENCE),
        )
    with op.batch_alter_table("erased_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asked_cost", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("erased_counts", schema=None) as batch_op:
        batch_op.drop_column("asked_cost")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_created_at_occupation_audience")
        batch_op.create_index(
            "ix_contacts_created_at_occupation_audience",
            ["created_at", "occupation"],
            unique=False,
            sqlite_where=sa.text(AUDIENCE),
            postgresql_where=sa.text(AUDIENCE),
        )
        batch_op.drop_column("asked_cost_at")
