"""/id: the id staff need to grant someone a role (a Telegram user id, a WhatsApp number), in any step; and on
Telegram, a role granted to a phone number taken by sharing one's own number."""

from __future__ import annotations

from bot.conversation.router import Router
from bot.conversation.turn import MAIN, NEW, Turn
from bot.phone import display_phone, normalise_phone
from bot.services.roles import claim_by_phone, grant_waiting
from handlers.invite import welcome_to_role
from handlers.onboarding import back_to_menu

router = Router("whoami")

CLAIM = "admin/claim_phone"


@router.command("id")
async def my_id(turn: Turn) -> None:
    contact, phone = turn.contact, turn.inbound.platform_phone
    if contact.channel == "telegram":
        turn.say("onboarding.id_telegram", id=contact.external_id)
    elif phone:
        number = normalise_phone(phone)  # shown the way people write their own; a foreign one as it is
        turn.say("onboarding.id_whatsapp", phone=display_phone(number) if number else phone)
    elif contact.channel == "whatsapp":  # a username hides the number: only an invite link reaches them
        turn.say("onboarding.id_whatsapp_hidden")
    else:
        turn.say("onboarding.id_other", id=contact.external_id)
    # Offered outside a worker's steps only: one half through leaving their contact keeps their place.
    if turn.shares_phone and turn.state in (MAIN, NEW) and await grant_waiting(turn.session, turn.now):
        turn.goto(CLAIM)
    await turn.prompt()


@router.prompt(CLAIM)
async def ask_to_share(turn: Turn) -> None:
    turn.say("onboarding.id_share", request_phone=True, choices=[turn.choice("menu", "common.cancel")])


@router.contact(CLAIM)
async def shared(turn: Turn, phone: str) -> None:
    """Only the sender's own contact counts: a worker cannot take a role granted to someone else's number."""
    if not turn.inbound.phone_is_own:
        turn.say("onboarding.id_not_own")
        await ask_to_share(turn)
        return
    number = normalise_phone(phone)
    invite = await claim_by_phone(turn.session, turn.contact, number, turn.now) if number else None
    if invite is None:
        turn.say("onboarding.id_no_grant", close_keyboard=True)
        back_to_menu(turn)
        return
    turn.say("onboarding.id_granted", close_keyboard=True)
    await welcome_to_role(turn)


@router.text(CLAIM)
async def typed(turn: Turn, _: str) -> None:
    """A typed number proves nothing: only the button shares the person's own."""
    turn.say("onboarding.id_use_button")
    await ask_to_share(turn)
