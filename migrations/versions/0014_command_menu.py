"""command menu: which role's Telegram command menu a person's chat was given, and in which language, so the
leader can tell whose menu no longer matches their role

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 03:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

MENU_HOLDERS = "(role IS NOT NULL OR command_menu IS NOT NULL)"  # as in bot/models.py


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("command_menu", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_contacts_menu_holders",
            ["channel"],
            unique=False,
            sqlite_where=sa.text(MENU_HOLDERS),
            postgresql_where=sa.text(MENU_HOLDERS),
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_menu_holders")
        batch_op.drop_column("command_menu")
