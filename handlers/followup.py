"""The worker's answer to a reminder ("Sudah daftar?"): registered, help me, or stop reminding."""

from __future__ import annotations

from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import FollowUp, FollowUpKind, Lead, LeadStatus
from bot.services.followups import ask_for_a_call, cancel_followups, change_lead_status, settle_followup
from handlers.onboarding import back_to_menu

router = Router("followup")


async def _answered(turn: Turn, followup_id: str, outcome: str) -> Lead | None:
    """Record the answer on the reminder the button belongs to, if it is this person's; else refuse it."""
    row = await turn.session.get(FollowUp, int(followup_id)) if followup_id.isdigit() else None
    if row is None or row.contact_id != turn.contact.id or row.lead_id is None:
        await turn.refuse_button()
        return None
    await settle_followup(turn.session, row.id, row.status, outcome=outcome)
    return await turn.session.get(Lead, row.lead_id)


@router.action("fu_done")
async def registered(turn: Turn, followup_id: str) -> None:
    if (lead := await _answered(turn, followup_id, "sudah")) is None:
        return
    await change_lead_status(turn.session, lead, LeadStatus.TERDAFTAR, "worker", turn.now)
    await cancel_followups(turn.session, turn.contact.id, outcome="registered")
    back_to_menu(turn, turn.t("followup.done_reply", name=lead.name))


@router.action("fu_help")
async def help_me(turn: Turn, followup_id: str) -> None:
    if (lead := await _answered(turn, followup_id, "belum_bantu")) is None:
        return
    await ask_for_a_call(turn.session, lead, turn.now)
    back_to_menu(turn, turn.t("followup.help_reply"))


@router.action("fu_stop")
async def stop_reminding(turn: Turn, followup_id: str) -> None:
    if await _answered(turn, followup_id, "jangan_ingatkan") is None:
        return
    await cancel_followups(turn.session, turn.contact.id, outcome="not_wanted", kinds=(FollowUpKind.REMINDER,))
    back_to_menu(turn, turn.t("followup.stop_reply"))
