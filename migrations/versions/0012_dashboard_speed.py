"""dashboard speed: indexes that hold every column the dashboard's counts read (covering), so a year's figures are
counted from the indexes alone, without reading each row

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

AUDIENCE = "role IS NULL"  # contacts without a role: the people the funnel counts (and nearly every contact)


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_created_at")
        batch_op.create_index(
            "ix_contacts_created_at_occupation_audience",
            ["created_at", "occupation"],
            unique=False,
            sqlite_where=sa.text(AUDIENCE),
            postgresql_where=sa.text(AUDIENCE),
        )

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_purpose_decided_at")
        batch_op.create_index(
            "ix_consents_purpose_granted_decided_at_contact_id",
            ["purpose", "granted", "decided_at", "contact_id"],
            unique=False,
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_created_at")
        batch_op.create_index(
            "ix_leads_created_at_id_region_occupation", ["created_at", "id", "region", "occupation"], unique=False
        )
        batch_op.drop_index("ix_leads_region_created_at")
        batch_op.create_index(
            "ix_leads_region_created_at_id_occupation", ["region", "created_at", "id", "occupation"], unique=False
        )

    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_to_status_at")
        batch_op.drop_index("ix_lead_events_lead_id")
        batch_op.create_index(
            "ix_lead_events_to_status_at_lead_id_actor", ["to_status", "at", "lead_id", "actor"], unique=False
        )
        batch_op.create_index("ix_lead_events_lead_id_actor_at_to_status", ["lead_id", "actor", "at", "to_status"])

    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_followups_status_kind_updated_at_officer_id_due_at",
            ["status", "kind", "updated_at", "officer_id", "due_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_status_kind_updated_at_officer_id_due_at")

    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_lead_id_actor_at_to_status")
        batch_op.drop_index("ix_lead_events_to_status_at_lead_id_actor")
        batch_op.create_index("ix_lead_events_lead_id", ["lead_id"], unique=False)
        batch_op.create_index("ix_lead_events_to_status_at", ["to_status", "at"], unique=False)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_region_created_at_id_occupation")
        batch_op.create_index("ix_leads_region_created_at", ["region", "created_at"], unique=False)
        batch_op.drop_index("ix_leads_created_at_id_region_occupation")
        batch_op.create_index("ix_leads_created_at", ["created_at"], unique=False)

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_purpose_granted_decided_at_contact_id")
        batch_op.create_index("ix_consents_purpose_decided_at", ["purpose", "decided_at"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_created_at_occupation_audience")
        batch_op.create_index("ix_contacts_created_at", ["created_at"], unique=False)
