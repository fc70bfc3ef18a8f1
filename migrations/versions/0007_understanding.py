"""understanding: the words typed as a consent decision, and the messages the bot did not understand

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("typed_text", sa.String(length=200), nullable=True))
    op.create_table(
        "misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("created_at", bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_misses_contact_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("misses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_misses_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_misses_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("misses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_misses_created_at"))
        batch_op.drop_index(batch_op.f("ix_misses_contact_id"))
    op.drop_table("misses")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("typed_text")
