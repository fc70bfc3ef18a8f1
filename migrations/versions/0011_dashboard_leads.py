"""dashboard leads: an index on leads (region, created_at), from which an officer's leads of a period are counted

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:30:00.000000
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_region_created_at", ["region", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_region_created_at")
