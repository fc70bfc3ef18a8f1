"""grants: invites for any role, by link or by phone number, and who used them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("name", existing_type=sa.String(length=80), nullable=True)
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(length=16), server_default="officer", nullable=False))
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_invites_contact_id", "contacts", ["contact_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_invites_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_invites_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM invites WHERE token_hash IS NULL OR name IS NULL")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invites_contact_id"))
        batch_op.drop_index(batch_op.f("ix_invites_phone"))
        batch_op.drop_constraint("fk_invites_contact_id", type_="foreignkey")
        batch_op.drop_column("contact_id")
        batch_op.drop_column("role")
        batch_op.drop_column("phone")
        batch_op.alter_column("name", existing_type=sa.String(length=80), nullable=False)
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
