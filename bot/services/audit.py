"""The audit log: exports, role changes, broadcasts and refused attempts, with who, when, what and how many.

Entries are appended and never changed, except that an erased person's name in them becomes "erased".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditEvent, Contact, Role

ERASED = "erased"


@dataclass(frozen=True)
class Actor:
    """Who acts: "telegram:<user id>" in the chat, "cli:<system user>" on the server, and their role then."""

    label: str
    role: Role

    @classmethod
    def of_contact(cls, contact: Contact, role: Role) -> Actor:
        return cls(cls.of_contact_id(contact.channel, contact.external_id), role)

    @staticmethod
    def of_contact_id(channel: str, external_id: str) -> str:
        """The label of a person by their chat, as their entries name them."""
        return f"{channel}:{external_id}"


async def record_event(
    session: AsyncSession,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    allowed: bool = True,
    rows: int | None = None,
    subject: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            at=now,
            actor=actor.label,
            actor_role=actor.role,
            action=action,
            subject=subject,
            allowed=allowed,
            detail=detail,
            rows=rows,
        )
    )
    await session.flush()


async def list_events(
    session: AsyncSession,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    refused_only: bool = False,
    limit: int = 100,
) -> list[AuditEvent]:
    """The latest entries first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if actor is not None:  # what someone did, and what was done to them
        query = query.where(or_(AuditEvent.actor == actor, AuditEvent.subject == actor))
    if refused_only:
        query = query.where(AuditEvent.allowed.is_(False))
    return list((await session.execute(query)).scalars())


async def forget_actors(session: AsyncSession, labels: list[str]) -> None:
    """These people were erased: their entries stay (what was done), without their names."""
    await session.execute(update(AuditEvent).where(AuditEvent.actor.in_(labels)).values(actor=ERASED))
    await session.execute(update(AuditEvent).where(AuditEvent.subject.in_(labels)).values(subject=ERASED))
