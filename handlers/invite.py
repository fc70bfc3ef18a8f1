"""Staff and admins manage officers from the chat: a one-time invite link for a new officer (/undang), on
Telegram and WhatsApp, the list of officers (/petugas); and whoever opens an invite link takes the role it grants.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import Role
from bot.services.audit import record_event
from bot.services.officers import (
    INVITE_LIFETIME,
    OfficerError,
    actor_of,
    check_officer_name,
    create_invite,
    list_officers,
)
from bot.services.roles import claim_by_link
from handlers.onboarding import back_to_menu, work_welcome

router = Router("invite")

INVITE_NAME = "admin/invite_name"
INVITE_REGIONS = "admin/invite_regions"


@router.command("petugas", "officers", role=Role.STAFF)
async def officers(turn: Turn) -> None:
    lines = [
        turn.t(
            "officer.list_line",
            id=line.officer.id,
            name=line.officer.name,
            regions=", ".join(line.regions),
            leads=line.leads,
            tasks=line.open_tasks,
            code=line.officer.code,
        )
        for line in await list_officers(turn.session)
    ]
    back_to_menu(turn, "\n".join([turn.t("officer.list_header"), *lines]) if lines else turn.t("officer.list_empty"))


@router.command("undang", "invite", role=Role.STAFF)
async def invite(turn: Turn) -> None:
    turn.goto(INVITE_NAME)
    await turn.prompt()


@router.prompt(INVITE_NAME)
async def ask_invite_name(turn: Turn) -> None:
    turn.say("officer.invite_ask_name", choices=[turn.choice("menu", "common.cancel")])


@router.text(INVITE_NAME, role=Role.STAFF)
async def invite_name(turn: Turn, text: str) -> None:
    try:
        name = check_officer_name(text)
    except OfficerError:
        turn.say("officer.invite_bad_name")
        await turn.prompt()
        return
    turn.goto(INVITE_REGIONS, name=name, regions=[])
    await turn.prompt()


@router.prompt(INVITE_REGIONS)
async def ask_invite_regions(turn: Turn) -> None:
    chosen = turn.data.get("regions", [])
    choices = [
        Choice(f"inv_region:{i}", f"✓ {region}" if region in chosen else region)
        for i, region in enumerate(turn.content.regions)
    ]
    choices += [turn.choice("inv_done", "officer.invite_done"), turn.choice("menu", "common.cancel")]
    turn.say("officer.invite_ask_regions", name=turn.data.get("name", ""), choices=choices, columns=2)


@router.action("inv_region", decides=INVITE_REGIONS, role=Role.STAFF)
async def toggle_invite_region(turn: Turn, index: str) -> None:
    if (region := turn.content.region_at(index)) is None:
        await turn.refuse_button()
        return
    chosen = turn.data.get("regions", [])
    chosen = [r for r in chosen if r != region] if region in chosen else [*chosen, region]
    turn.goto(INVITE_REGIONS, name=turn.data["name"], regions=chosen)
    await turn.prompt()


@router.action("inv_done", decides=INVITE_REGIONS, role=Role.STAFF)
async def finish_invite(turn: Turn, _: str) -> None:
    regions = turn.data.get("regions", [])
    if not regions:
        turn.say("officer.invite_no_region")
        await turn.prompt()
        return
    name = turn.data["name"]
    created_by = actor_of(None, turn.contact)
    payload = await create_invite(turn.session, created_by, turn.now, name=name, regions=regions)
    await record_event(turn.session, turn.actor, "officer", turn.now, change="invite", name=name, regions=regions)
    links = [link for link in (turn.deep_link(payload, "telegram"), whatsapp_invite(turn, payload)) if link]
    text = turn.t(
        "officer.invite_link",
        name=name,
        regions=", ".join(regions),
        link="\n".join(links) or payload,
        days=INVITE_LIFETIME.days,
    )
    back_to_menu(turn, text)


def whatsapp_invite(turn: Turn, payload: str) -> str | None:
    """wa.me/<business number>?text=…: the message it types carries the invite (bot/channels/whatsapp/inbound.py
    reads it as /start <payload>)."""
    number = turn.settings.whatsapp_display_number
    if number is None:
        return None
    text = turn.dispatcher.messages[turn.settings.default_locale]("whatsapp.invite_text", code=payload)
    return f"https://wa.me/{number}?text={quote(text)}"


@router.action("accept_invite")
async def accept_invite(turn: Turn, payload: str) -> None:
    """Reached from /start with an invite payload (onboarding): anyone holding the link may use it, once."""
    invite = await claim_by_link(turn.session, turn.contact, payload, turn.now)
    if invite is None:
        back_to_menu(turn, turn.t("officer.invite_invalid"))
        return
    await welcome_to_role(turn)


async def welcome_to_role(turn: Turn) -> None:
    """What someone who just took a granted role is told: what they are, where, and what they can do."""
    turn.wake("menus")  # and their own command menu
    back_to_menu(turn, await work_welcome(turn))
