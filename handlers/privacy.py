"""STOP/BERHENTI, MULAI, DATA SAYA, UBAH DATA and HAPUS: reachable from any state, by keyword, command or menu."""

from __future__ import annotations

import json
from datetime import datetime

from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.phone import display_phone
from bot.services.consent import list_consents
from bot.services.leads import find_lead
from bot.services.privacy import erase_contact, personal_data, resume_messages, stop_messages
from handlers.onboarding import back_to_menu, occupation_label, show_menu

router = Router("privacy", rights=True)  # none of these waits for a new consent text to be agreed to

STOP_CONFIRM = "privacy/stop_confirm"
ERASE_CONFIRM = "privacy/erase_confirm"
DATA_FILE = "data-saya.json"


@router.action("privacy")
async def privacy_menu(turn: Turn, _: str) -> None:
    turn.say(
        "privacy.menu",
        choices=[
            turn.choice("my_data", "privacy.my_data_button"),
            turn.choice("change_data", "privacy.change_button"),
            turn.choice("stop", "privacy.stop_button"),
            turn.choice("erase", "privacy.erase_button"),
            turn.choice("menu", "common.menu"),
        ],
    )


@router.keyword("stop", "berhenti", "unsubscribe")
@router.command("stop", "berhenti")
async def stop_keyword(turn: Turn) -> None:
    await stop_now(turn, "")


@router.action("stop_now")
async def stop_now(turn: Turn, _: str) -> None:
    """STOP typed in any form stops at once (UU PDP: a withdrawal is honoured, not argued with); the privacy
    menu's button still asks first, since a tap can be a slip."""
    await stop_messages(turn.session, turn.contact, turn.content.consent_version)
    back_to_menu(turn, turn.t("privacy.stopped_now"))


@router.action("stop")
async def ask_stop(turn: Turn, _: str) -> None:
    turn.goto(STOP_CONFIRM)
    await stop_prompt(turn)


@router.prompt(STOP_CONFIRM, again="step.again.stop_confirm")
async def stop_prompt(turn: Turn) -> None:
    turn.say(
        "privacy.stop_confirm",
        choices=[
            turn.choice("stop_yes", "privacy.stop_yes", means="answer:yes"),
            turn.choice("menu", "privacy.keep", means="answer:no"),
        ],
    )


@router.action("stop_yes", decides=STOP_CONFIRM)
async def stop_confirmed(turn: Turn, _: str) -> None:
    await stop_messages(turn.session, turn.contact, turn.content.consent_version)
    back_to_menu(turn, turn.t("privacy.stopped"))


@router.keyword("mulai", "resume")
@router.command("mulai", "resume")
async def resume(turn: Turn) -> None:
    await resume_messages(turn.session, turn.contact)
    back_to_menu(turn, turn.t("privacy.resumed"))


def _when(turn: Turn, moment: datetime) -> str:
    return turn.local_time(moment, "d MMM y HH:mm zzz")


@router.keyword("data saya", "my data")
@router.command("datasaya", "mydata")
async def my_data_keyword(turn: Turn) -> None:
    await my_data(turn, "")


@router.action("my_data")
async def my_data(turn: Turn, _: str) -> None:
    t, contact = turn.t, turn.contact
    lines = [
        t("privacy.data.header"),
        t("privacy.data.chat", channel=contact.channel, since=_when(turn, contact.created_at)),
        t("privacy.data.language", language=t(f"language.{contact.locale}")),
        t("privacy.data.occupation", occupation=occupation_label(turn, contact.occupation)),
    ]
    if contact.source_code:
        lines.append(t("privacy.data.source", source=contact.source_code))
    lines.append(t("privacy.data.stopped") if contact.messages_stopped_at else t("privacy.data.receiving"))
    lead = await find_lead(turn.session, contact)
    if lead is None:
        lines.append(t("privacy.data.no_lead"))
    else:
        lines.append(
            t(
                "privacy.data.lead",
                name=lead.name,
                phone=display_phone(lead.phone),
                region=lead.region,
                call_time=t(f"interest.call_time.{lead.call_time}"),
                status=turn.t(f"interest.status.{lead.status}"),
                saved=_when(turn, lead.updated_at),
            )
        )
    for consent in await list_consents(turn.session, contact):
        key = "privacy.data.consent_given" if consent.granted else "privacy.data.consent_refused"
        lines.append(
            t(
                key,
                purpose=t(f"privacy.purpose.{consent.purpose}"),
                version=consent.text_version,
                when=_when(turn, consent.decided_at),
            )
        )
    lines.append(t("privacy.data.footer"))
    turn.reply(
        "\n".join(lines),
        choices=[
            turn.choice("my_data_file", "privacy.data.file_button"),
            turn.choice("change_data", "privacy.change_button"),
            turn.choice("menu", "common.menu"),
        ],
    )


@router.action("my_data_file")
async def my_data_file(turn: Turn, _: str) -> None:
    """The same, as a file the person keeps or takes elsewhere (JSON: what any program reads)."""
    data = {"operator": turn.settings.operator_name, **await personal_data(turn.session, turn.contact)}
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    turn.reply(turn.t("privacy.data.file_caption"), document=(DATA_FILE, content))
    show_menu(turn)


@router.keyword("ubah data", "ubah data saya", "change my data")
@router.command("ubahdata", "changedata")
async def change_data_keyword(turn: Turn) -> None:
    await change_data(turn, "")


@router.action("change_data")
async def change_data(turn: Turn, _: str) -> None:
    """UBAH DATA: the summary of what they left, each field editable with the checks it had when given (the
    lead keeps its stage and its officer's history; the officer of a new region is told)."""
    if await find_lead(turn.session, turn.contact) is None:
        back_to_menu(turn, turn.t("privacy.nothing_to_change"))
        return
    await turn.run("interest")


@router.keyword("hapus", "hapus data", "hapus data saya", "delete", "delete my data")
@router.command("hapus", "delete")
async def erase_keyword(turn: Turn) -> None:
    await ask_erase(turn, "")


@router.action("erase")
async def ask_erase(turn: Turn, _: str) -> None:
    turn.goto(ERASE_CONFIRM)
    await erase_prompt(turn)


@router.prompt(ERASE_CONFIRM, again="step.again.erase_confirm")
async def erase_prompt(turn: Turn) -> None:
    turn.say(
        "privacy.erase_confirm",
        choices=[
            turn.choice("erase_yes", "privacy.erase_yes", means="answer:yes"),
            turn.choice("menu", "privacy.keep", means="answer:no"),
        ],
    )


@router.action("erase_yes", decides=ERASE_CONFIRM)
async def erase_confirmed(turn: Turn, _: str) -> None:
    await erase_contact(turn.session, turn.contact, turn.now)
    turn.say("privacy.erased")
