"""retention: anonymous counts of the erased (replacing erasures), a daily job's day, what a campaign keeps of its
removed deliveries, when an officer was warned of a lead's removal, and the indexes the purge reads by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:06:48.657627
"""

import sqlalchemy as sa
from alembic import op

import bot.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_jobs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("done_on", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "erased_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("erased_month", sa.String(length=7), nullable=False),
        sa.Column("started_month", sa.String(length=7), nullable=False),
        sa.Column("lead_month", sa.String(length=7), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("occupation", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "reason",
            "erased_month",
            "started_month",
            "lead_month",
            "channel",
            "occupation",
            "region",
            "outcome",
            name="uq_erased_counts_key",
        ),
    )
    # The counts of earlier erasures (HAPUS) carry over: month, channel and whether there was a lead are all they knew.
    op.execute(
        "INSERT INTO erased_counts (reason, erased_month, started_month, lead_month, channel, occupation, region,"
        " outcome, count) SELECT 'request', erased_on, erased_on, '', channel, '', '',"
        " CASE WHEN had_lead THEN 'lead' ELSE 'no_lead' END, count(*) FROM erasures"
        " GROUP BY erased_on, channel, CASE WHEN had_lead THEN 'lead' ELSE 'no_lead' END"
    )
    op.drop_table("erasures")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept", sa.JSON(), nullable=True))

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_last_seen_at"), ["last_seen_at"], unique=False)

    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followups_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiry_warned_at", bot.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_contact_at", bot.models.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE leads SET last_contact_at = updated_at")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.alter_column("last_contact_at", existing_type=bot.models.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f("ix_leads_last_contact_at"), ["last_contact_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_last_contact_at"))
        batch_op.drop_column("last_contact_at")
        batch_op.drop_column("expiry_warned_at")

    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followups_updated_at"))

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_last_seen_at"))

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("kept")

    op.create_table(
        "erasures",
        sa.Column("id", sa.INTEGER(), nullable=False),
        sa.Column("erased_on", sa.VARCHAR(length=7), nullable=False),
        sa.Column("channel", sa.VARCHAR(length=16), nullable=False),
        sa.Column("had_lead", sa.BOOLEAN(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO erasures (erased_on, channel, had_lead) SELECT erased_month, channel, outcome <> 'no_lead'"
        " FROM erased_counts WHERE reason = 'request'"
    )
    op.drop_table("erased_counts")
    op.drop_table("daily_jobs")
