"""Lead capture ("Saya tertarik"): consent first, then name, phone, occupation, region, call time, a summary,
and the lead saved.

The collected answers stay in the contact's state data until the worker confirms, so a restart in the middle
continues at the question they were on. Nothing is collected before consent, and never a NIK or KTP number.

When the consent text changes in a way that matters (content/consent.toml), someone who agreed to an earlier
version is asked again at their next message, which is kept and answered once they have decided.
"""

from __future__ import annotations

import re

from bot.conversation.events import Choice, Inbound, Kind, decode_choice, encode_choice
from bot.conversation.router import Router
from bot.conversation.turn import MAIN, Turn
from bot.i18n import consent_periods
from bot.models import ConsentPurpose, FollowUpKind, Lead, Occupation
from bot.phone import display_phone, find_phone, looks_like_nik, normalise_phone
from bot.services.campaigns import credit_source
from bot.services.consent import has_consent, needs_new_consent, record_consent
from bot.services.followups import Cadence, schedule_lead_followups
from bot.services.leads import LeadDetails, find_lead, save_lead
from bot.services.officers import assign_lead, notice_recipients
from bot.services.tasks import LEAD_FIRST_NAME, end_lead_without_consent, queue_message
from handlers.onboarding import back_to_menu, occupation_label

router = Router("interest")

CONSENT = "interest/consent"
REMINDERS = "interest/reminders"
NAME = "interest/name"
PHONE = "interest/phone"
OCCUPATION = "interest/occupation"
REGION = "interest/region"
CALL_TIME = "interest/call_time"
CONFIRM = "interest/confirm"

FIELDS = (("name", NAME), ("phone", PHONE), ("occupation", OCCUPATION), ("region", REGION), ("call_time", CALL_TIME))
CALL_TIMES = ("pagi", "siang", "sore", "kapan")
_NAME_MAX = 60


@router.action("interest")
async def interested(turn: Turn, argument: str) -> None:
    """`interest`, or `interest:cmp-<id>` from a broadcast's button: the lead is then credited to it."""
    source = credit_source(argument)
    versions = turn.content.consent_versions
    if not await has_consent(turn.session, turn.contact, ConsentPurpose.LEAD_CONTACT, versions):
        turn.goto(CONSENT, source=source)
        await ask_consent(turn)
        return
    await _from_what_is_stored(turn, source)


async def _from_what_is_stored(turn: Turn, source: str | None) -> None:
    """Lead capture from the first question still unanswered; for someone who left their contact before (and
    may just have agreed to a new version of the consent text), the summary of what is stored, to save again or
    edit: one lead per person."""
    lead = await find_lead(turn.session, turn.contact)
    if lead is None:
        await continue_with(turn, {"occupation": turn.contact.occupation, "source": source})
        return
    known = {
        "name": lead.name,
        "phone": lead.phone,
        "occupation": lead.occupation,
        "region": lead.region,
        "call_time": lead.call_time,
        "source": source,
    }
    turn.goto(CONFIRM, **known)
    turn.say("interest.already_saved")
    await confirm(turn)


async def continue_with(turn: Turn, data: dict) -> None:
    """Go to the first question still unanswered, or to the summary.

    The phone is not asked when the platform gave the person's own number with this message (WhatsApp): it is
    taken from there, said, and can be changed in the summary.
    """
    data = {key: value for key, value in data.items() if value}
    for field, state in FIELDS:
        if field == "phone" and field not in data and (phone := normalise_phone(turn.inbound.platform_phone)):
            turn.say("interest.phone_from_platform", phone=display_phone(phone))
            data["phone"] = phone
        if field not in data:
            turn.goto(state, **data)
            await turn.prompt()
            return
    turn.goto(CONFIRM, **data)
    await confirm(turn)


def answered(turn: Turn, **value: str) -> dict:
    """The answers so far plus this one (editing from the summary comes back here too)."""
    return {**turn.data, **value}


def typed_words(turn: Turn) -> str | None:
    """The words of a decision typed rather than tapped ("iyo setuju"): kept with it as its proof."""
    return turn.inbound.text if turn.inbound.kind is Kind.TEXT else None


@router.prompt(CONSENT, again="step.again.consent")
async def ask_consent(turn: Turn) -> None:
    operator = turn.settings.operator_name or turn.t("explain.operator_unnamed")
    turn.reply(
        turn.t("consent.body", operator=operator, **consent_periods(turn.t, turn.settings.retention)),
        choices=[
            turn.choice("consent:yes", "consent.agree", means="answer:yes"),
            turn.choice("consent:no", "consent.decline", means="answer:no"),
        ],
    )


@router.action("consent", decides=CONSENT)
async def consent_decision(turn: Turn, answer: str) -> None:
    if answer not in ("yes", "no"):
        await turn.refuse_button()
        return
    granted = answer == "yes"
    version = turn.content.consent_version
    await record_consent(
        turn.session, turn.contact, ConsentPurpose.LEAD_CONTACT, version, granted, typed_words(turn), turn.now
    )
    kept = turn.data.get("kept")
    if kept is not None and not granted:
        await end_lead_without_consent(turn.session, turn.contact, turn.now)
        await _answer_kept(turn, kept, "consent.renewal_declined")
    elif kept is not None and not await _reminders_to_ask_again(turn):
        await _answer_kept(turn, kept, "consent.renewed")
    elif granted:
        turn.goto(REMINDERS, **turn.data)
        await ask_reminders(turn)
    else:
        back_to_menu(turn, turn.t("consent.declined"))


@router.prompt(REMINDERS, again="step.again.reminders")
async def ask_reminders(turn: Turn) -> None:
    turn.say(
        "consent.reminders_question",
        choices=[
            turn.choice("reminders:yes", "consent.reminders_yes", means="answer:yes"),
            turn.choice("reminders:no", "consent.reminders_no", means="answer:no"),
        ],
    )


@router.action("reminders", decides=REMINDERS)
async def reminders_decision(turn: Turn, answer: str) -> None:
    if answer not in ("yes", "no"):
        await turn.refuse_button()
        return
    granted = answer == "yes"
    version = turn.content.consent_version
    await record_consent(
        turn.session, turn.contact, ConsentPurpose.REMINDERS, version, granted, typed_words(turn), turn.now
    )
    if granted:
        turn.contact.messages_stopped_at = None
    if (kept := turn.data.get("kept")) is not None:
        await _answer_kept(turn, kept, "consent.renewed")
        return
    await _from_what_is_stored(turn, turn.data.get("source"))


@router.before_turn
async def consent_changed(turn: Turn) -> bool:
    """Someone who agreed to be contacted on a consent text that no longer counts is asked again before their
    message is answered; the message is kept and answered after they decide. STOP, HAPUS and DATA SAYA go
    through at once, and the consent question itself (a first one, or this one) is being answered."""
    if turn.state in (CONSENT, REMINDERS):
        return False
    versions = turn.content.consent_versions
    if not await needs_new_consent(turn.session, turn.contact, ConsentPurpose.LEAD_CONTACT, versions):
        return False
    if turn.dispatcher.asks_for_a_right(turn):
        return False
    turn.goto(CONSENT, kept=_kept(turn))
    turn.say("consent.changed")
    await ask_consent(turn)
    return True


def _kept(turn: Turn) -> dict:
    """The message and where its sender was, to answer it after the consent question. A tapped button keeps
    whether it came from the message that asked (so a decision still counts); a shared phone number is not
    kept before consent, the step asks for it again."""
    inbound = turn.inbound
    message: dict = {"kind": Kind.RESUME}
    if inbound.kind in (Kind.TEXT, Kind.COMMAND):
        message = {"kind": inbound.kind, "text": inbound.text, "command": inbound.command, "payload": inbound.payload}
    elif inbound.kind is Kind.CHOICE and (decoded := decode_choice(inbound.choice)) is not None:
        serial, action = decoded
        message = {"kind": inbound.kind, "action": action, "current": serial == turn.contact.state_serial}
    return {"state": turn.state, "data": turn.data, "message": message}


async def _reminders_to_ask_again(turn: Turn) -> bool:
    """Reminders are asked about again only by someone who had agreed to them: a no, or a STOP, still holds."""
    versions = turn.content.consent_versions
    return await needs_new_consent(turn.session, turn.contact, ConsentPurpose.REMINDERS, versions)


async def _answer_kept(turn: Turn, kept: dict, said: str) -> None:
    """After the consent question: say what was decided, then answer the kept message where its sender was (a
    question asked from a step is answered and the step asked again). Someone who declined is not taken back
    into leaving their contact: the menu instead."""
    declined = said == "consent.renewal_declined"
    if declined and kept["state"].startswith("interest/"):
        back_to_menu(turn, turn.t(said))
        return
    turn.goto(MAIN if declined else kept["state"], **({} if declined else kept["data"]))
    turn.say(said)
    message = kept["message"]
    choice = ""
    if message["kind"] == Kind.CHOICE:  # the step given back has a new serial: a decision from it still counts
        choice = encode_choice(turn.contact.state_serial if message["current"] else 0, message["action"])
    inbound = Inbound(
        channel=turn.inbound.channel,
        external_id=turn.inbound.external_id,
        kind=Kind(message["kind"]),
        text=message.get("text", ""),
        command=message.get("command", ""),
        payload=message.get("payload", ""),
        choice=choice,
        platform_phone=turn.inbound.platform_phone,
    )
    await turn.dispatcher.answer_kept(turn, inbound)


@router.prompt(NAME, again="step.again.name")
async def ask_name(turn: Turn) -> None:
    turn.say("interest.ask_name", choices=[turn.choice("interest_cancel", "interest.cancel", means="cancel")])


@router.text(NAME)
async def typed_name(turn: Turn, text: str) -> None:
    if looks_like_nik(text):
        turn.say("interest.no_nik")
        await ask_name(turn)
        return
    name = turn.dispatcher.understanding.name_from(text) if not re.search(r"\d{3,}", text) else text
    if len(name) > _NAME_MAX or sum(c.isalpha() for c in name) < 2 or re.search(r"\d{3,}", name):
        turn.say("interest.bad_name", max=_NAME_MAX)
        await ask_name(turn)
    else:
        await continue_with(turn, answered(turn, name=name))


@router.prompt(PHONE, again="step.again.phone")
async def ask_phone(turn: Turn) -> None:
    key = "interest.ask_phone" if turn.shares_phone else "interest.ask_phone_typed"
    turn.say(key, request_phone=True, choices=[turn.choice("interest_cancel", "interest.cancel", means="cancel")])


@router.contact(PHONE)
async def shared_phone(turn: Turn, phone: str) -> None:
    if not turn.inbound.phone_is_own:
        turn.say("interest.phone_not_own")
        await ask_phone(turn)
        return
    await typed_phone(turn, phone)


@router.text(PHONE)
async def typed_phone(turn: Turn, text: str) -> None:
    phone = normalise_phone(text) or find_phone(text)
    if phone is not None:
        turn.say("interest.phone_ok", phone=display_phone(phone), close_keyboard=True)
        await continue_with(turn, answered(turn, phone=phone))
    elif looks_like_nik(text):
        turn.say("interest.no_nik")
        await ask_phone(turn)
    else:
        turn.say("interest.bad_phone")
        await ask_phone(turn)


@router.prompt(OCCUPATION, again="step.again.occupation")
async def ask_occupation(turn: Turn) -> None:
    choices = [turn.choice(f"lead_occ:{o}", f"occupation.{o}.label", means=f"occupation:{o}") for o in Occupation]
    turn.say("interest.ask_occupation", choices=choices, columns=2)


@router.action("lead_occ", decides=OCCUPATION)
async def chosen_occupation(turn: Turn, occupation: str) -> None:
    if occupation not in Occupation.__members__.values():
        await turn.refuse_button()
        return
    await continue_with(turn, answered(turn, occupation=occupation))


def _regions(turn: Turn) -> tuple[str, ...]:
    return turn.content.regions


@router.prompt(REGION, again="step.again.region")
async def ask_region(turn: Turn) -> None:
    choices = [Choice(f"region:{i}", region, f"region:{region}") for i, region in enumerate(_regions(turn))]
    turn.say("interest.ask_region", choices=choices, columns=2)


@router.action("region", decides=REGION)
async def chosen_region(turn: Turn, index: str) -> None:
    if (region := turn.content.region_at(index)) is None:
        await turn.refuse_button()
        return
    await continue_with(turn, answered(turn, region=region))


@router.text(REGION)
async def typed_region(turn: Turn, text: str) -> None:
    """Accept a typed name when it points at exactly one region: "muko muko", "rejang", "kota"."""
    typed = re.sub(r"[^a-z]", "", text.lower())
    matches = [r for r in _regions(turn) if typed and typed in re.sub(r"[^a-z]", "", r.lower())]
    if len(matches) == 1:
        await continue_with(turn, answered(turn, region=matches[0]))
    elif matches:  # "bengkulu" is four regions' name: ask which, with those four
        regions = _regions(turn)
        choices = [Choice(f"region:{regions.index(r)}", r, f"region:{r}") for r in matches]
        turn.say("interest.which_region", typed=text.strip()[:40], choices=choices, columns=2)
    else:
        turn.say("interest.bad_region")
        await ask_region(turn)


@router.prompt(CALL_TIME, again="step.again.call_time")
async def ask_call_time(turn: Turn) -> None:
    choices = [turn.choice(f"call_time:{c}", f"interest.call_time.{c}", means=f"calltime:{c}") for c in CALL_TIMES]
    turn.say("interest.ask_call_time", choices=choices)


@router.action("call_time", decides=CALL_TIME)
async def chosen_call_time(turn: Turn, call_time: str) -> None:
    if call_time not in CALL_TIMES:
        await turn.refuse_button()
        return
    await continue_with(turn, answered(turn, call_time=call_time))


@router.prompt(CONFIRM, again="step.again.confirm")
async def confirm(turn: Turn) -> None:
    data = turn.data
    turn.say(
        "interest.summary",
        name=data["name"],
        phone=display_phone(data["phone"]),
        occupation=occupation_label(turn, data["occupation"]),
        region=data["region"],
        call_time=turn.t(f"interest.call_time.{data['call_time']}"),
        choices=[
            turn.choice("lead_save", "interest.save", means="answer:yes"),
            turn.choice("lead_edit:name", "interest.edit_name"),
            turn.choice("lead_edit:phone", "interest.edit_phone"),
            turn.choice("lead_edit:occupation", "interest.edit_occupation"),
            turn.choice("lead_edit:region", "interest.edit_region"),
            turn.choice("lead_edit:call_time", "interest.edit_call_time"),
            turn.choice("interest_cancel", "interest.cancel", means="cancel"),
        ],
        columns=2,
    )


@router.action("lead_edit", decides=CONFIRM)
async def edit(turn: Turn, field: str) -> None:
    states = dict(FIELDS)
    if field not in states:
        await turn.refuse_button()
        return
    data = turn.data
    data.pop(field, None)
    turn.goto(states[field], **data)
    await turn.prompt()


@router.action("lead_save", decides=CONFIRM)
async def save(turn: Turn, _: str) -> None:
    data = turn.data
    details = LeadDetails(data["name"], data["phone"], data["occupation"], data["region"], data["call_time"])
    lead, created = await save_lead(turn.session, turn.contact, details, turn.now, source=data.get("source"))
    if created:
        versions = turn.content.consent_versions
        reminders = await has_consent(turn.session, turn.contact, ConsentPurpose.REMINDERS, versions)
        cadence = Cadence.from_settings(turn.settings)
        await schedule_lead_followups(turn.session, lead, turn.now, cadence, reminders=reminders)
    # New, or its region changed: an officer of that region takes it and its call task, and hears of it at once.
    officer_before = lead.officer_id
    await assign_lead(turn.session, lead)
    if created or lead.officer_id != officer_before:
        await _tell_officer(turn, lead)
    back_to_menu(turn, turn.t("interest.saved" if created else "interest.updated", name=details.name))


async def _tell_officer(turn: Turn, lead: Lead) -> None:
    """A short notice to the lead's officer (the admins for the pool), with a button to the lead's card: at a
    sosialisasi the officer sees who signed up while still at the stall."""
    recipients = await notice_recipients(turn.session, lead.officer_id, turn.settings.admin_telegram_ids)
    for contact in recipients:
        t = turn.dispatcher.messages[contact.locale]
        text = t(
            "officer.new_lead_notice",
            name=LEAD_FIRST_NAME.format(lead.id),  # filled in when sent: the row keeps no name
            occupation=t(f"occupation.{lead.occupation}.label"),
            region=lead.region,
            call_time=t(f"interest.call_time.{lead.call_time}"),
        )
        await queue_message(turn.session, contact.id, FollowUpKind.NOTICE, text, turn.now, lead_id=lead.id)
    if recipients:
        turn.wake("ticker")


@router.action("interest_cancel")
async def cancel(turn: Turn, _: str) -> None:
    back_to_menu(turn, turn.t("interest.cancelled"))
