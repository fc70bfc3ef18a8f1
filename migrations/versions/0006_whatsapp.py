"""whatsapp: stored webhook events, kept replies, receipts and how a message went out, marketing opt-outs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import bot.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_RECEIPT_COLUMNS = ("via", "receipt", "receipt_at", "error_code")
# WhatsApp's ids are longer than Telegram's: (table, column, old length, new length).
_WIDER = (
    ("contacts", "external_id", 64, 160),
    ("processed_updates", "update_key", 64, 160),
    ("followups", "platform_message_id", 64, 160),
    ("deliveries", "platform_message_id", 64, 160),
    ("campaigns", "progress_message_id", 64, 160),
    ("audit_events", "actor", 64, 176),
    ("audit_events", "subject", 64, 176),
    ("exports", "actor", 64, 176),
)


def _receipt_columns() -> list[sa.Column]:
    return [
        sa.Column("via", sa.String(length=16), nullable=True),
        sa.Column("receipt", sa.String(length=16), nullable=True),
        sa.Column("receipt_at", bot.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=160), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_channel_external_id_status", ["channel", "external_id", "status"], unique=False
        )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketing_stopped_at", bot.models.UTCDateTime(timezone=True), nullable=True))
    for table in ("deliveries", "followups"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in _receipt_columns():
                batch_op.add_column(column)
    for table, column, old, new in _WIDER:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=old), type_=sa.String(length=new))


def downgrade() -> None:
    for table, column, old, new in reversed(_WIDER):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=new), type_=sa.String(length=old))
    for table in ("followups", "deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(_RECEIPT_COLUMNS):
                batch_op.drop_column(name)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("marketing_stopped_at")
    op.drop_table("outbox")
    op.drop_table("webhook_events")
