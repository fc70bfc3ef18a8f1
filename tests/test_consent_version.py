"""The consent text states how long data is kept, from the settings in force; when it changes in a way that
matters, people who agreed to an older version are asked again at their next message, and meanwhile get no
reminder and no broadcast. A version listed as still valid (content/consent.toml) is not asked again."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import update

from bot.config import Settings, load_settings
from bot.content import load_content
from bot.i18n import Messages, load_catalogs
from bot.models import Consent
from bot.services.segments import Segment, count_audience
from tests.conftest import saved_lead, welcomed
from tests.test_followups import reminders_received
from tests.transcript import dialog

CONTENT = load_content()
RETIRED = "2020-01-01.1"  # a version of the consent text that no longer counts
[STILL_VALID] = CONTENT.consent_still_valid


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings, with the retention a test names (`indirect` parametrization) read from the
    environment as at start-up."""
    environ = getattr(request, "param", {})
    return dataclasses.replace(settings, retention=load_settings({"TELEGRAM_TOKEN": "1:x", **environ}, None).retention)


async def agreed_on(app, version: str, contact_id: int | None = None) -> None:
    """Every decision (of one person) as if it had been made on `version` of the consent text."""
    query = update(Consent).values(text_version=version)
    if contact_id is not None:
        query = query.where(Consent.contact_id == contact_id)
    async with app.dispatcher.sessions.begin() as session:
        await session.execute(query)


# ------------------------------------------------------------------------------------------- the periods


async def test_the_consent_text_says_how_long_data_is_kept_in_plain_words(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Saya tertarik]
        < Berapa lama: sampai Anda minta dihapus
        < data dihapus 6 bulan setelah kontak terakhir dengan kami; 3 bulan setelah Anda terdaftar atau menolak
        < dihapus setelah 30 hari
        < [✅ Setuju] [❌ Tidak setuju]
    """)


@pytest.mark.parametrize("settings", [{"RETAIN_OPEN_LEAD_DAYS": "120", "RETAIN_CHAT_DAYS": "14"}], indirect=True)
async def test_the_consent_text_states_the_configured_periods(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Saya tertarik]
        < data dihapus 4 bulan setelah kontak terakhir
        < dihapus setelah 14 hari
    """)


@pytest.mark.parametrize(
    ("days", "indonesian", "english"),
    [
        (1, "1 hari", "1 day"),
        (30, "30 hari", "30 days"),
        (45, "45 hari", "45 days"),
        (60, "2 bulan", "2 months"),
        (180, "6 bulan", "6 months"),
        (365, "1 tahun", "1 year"),
        (730, "2 tahun", "2 years"),
    ],
)
def test_days_are_said_as_people_say_them(days, indonesian, english):
    messages = Messages(CONTENT, load_catalogs())

    assert (messages["id"].days(days), messages["en"].days(days)) == (indonesian, english)


# ---------------------------------------------------------------------------------- asked again, or not


async def test_someone_who_agreed_to_a_retired_version_is_asked_again_and_then_answered(app, chat, db):
    await saved_lead(chat)
    await agreed_on(app, RETIRED)

    await dialog(chat).play("""
        > berapa iurannya?
        < Teks persetujuan kami berubah
        < Sebelum mencatat data Anda, mohon dibaca
        < [✅ Setuju] [❌ Tidak setuju]
        > [Setuju]
        < bolehkah kami sesekali mengirim pengingat
        > [Boleh]
        < Terima kasih, persetujuan Anda sudah diperbarui.
        < Mulai Rp16.800 per bulan
        > berapa iurannya?
        < Mulai Rp16.800 per bulan
    """)

    consents = db("select purpose, text_version, granted from consents order by id")
    assert [tuple(c) for c in consents[-2:]] == [
        ("lead_contact", CONTENT.consent_version, 1),
        ("reminders", CONTENT.consent_version, 1),
    ]
    assert db("select status from leads")[0][0] == "baru", "the lead goes on as it was"


async def test_a_decision_tapped_before_the_question_still_counts_after_agreeing(app, chat, db):
    await saved_lead(chat, reminders="Tidak usah")
    await chat.tap("Saya tertarik")  # the summary of what is stored, to save again
    await agreed_on(app, RETIRED)

    await dialog(chat).play("""
        > [Benar, simpan]
        < Teks persetujuan kami berubah
        > [Setuju]
        # no reminders question: they had said no to reminders, and that still holds
        < persetujuan Anda sudah diperbarui
        < Data Anda sudah diperbarui
    """)

    assert db("select purpose, text_version from consents order by id")[-1][:] == (
        "lead_contact",
        CONTENT.consent_version,
    )


async def test_declining_the_new_text_closes_the_lead_and_stops_reminders(app, chat, db, clock, ticker):
    await saved_lead(chat)
    await agreed_on(app, RETIRED)

    await dialog(chat).play("""
        > berapa iurannya?
        < Teks persetujuan kami berubah
        > [Tidak setuju]
        < Data Anda tidak lagi dipakai untuk menghubungi Anda
        < ketik HAPUS
        < Mulai Rp16.800 per bulan
        > apa itu BPU?
        < BPU
    """)

    assert db("select status from leads")[0][0] == "tidak_tertarik"
    [event] = db("select to_status, actor from lead_events where to_status = 'tidak_tertarik'")
    assert event["actor"] == "worker", "the officer sees the worker ended it"
    assert db("select count(*) from followups where status = 'pending'")[0][0] == 0, "no call, no reminder"
    clock.advance(days=20)
    assert (await ticker.tick()).sent == 0 and reminders_received(chat) == []


async def test_someone_who_agreed_to_a_version_still_valid_is_not_asked_again(app, chat, db):
    await saved_lead(chat)
    await agreed_on(app, STILL_VALID)

    replies = await dialog(chat).play("""
        > berapa iurannya?
        < Mulai Rp16.800 per bulan
    """)

    assert "Teks persetujuan kami berubah" not in "\n".join(m.text for m in replies)
    assert db("select text_version from consents")[-1][0] == STILL_VALID


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("DATA SAYA", "Data yang kami simpan tentang Anda"),
        ("tolong hapus data saya", "Yakin"),
        ("/hapus", "Yakin"),
        ("BERHENTI", "Pesan dihentikan"),
    ],
)
async def test_stop_erase_and_my_data_work_at_once_with_a_retired_consent(app, chat, typed, answer):
    await saved_lead(chat)
    await agreed_on(app, RETIRED)

    replies = await dialog(chat).play(f"""
        > {typed}
        < {answer}
    """)

    assert "Teks persetujuan kami berubah" not in "\n".join(m.text for m in replies)


async def test_erasing_with_a_retired_consent_is_confirmed_without_the_question_between(app, chat, db):
    await saved_lead(chat)
    await agreed_on(app, RETIRED)

    await dialog(chat).play("""
        > HAPUS
        < Yakin
        > [Ya, hapus]
        < dihapus
    """)

    assert db("select count(*) from leads")[0][0] == 0


# ------------------------------------------------------------------------------ nothing sent meanwhile


async def test_a_reminder_due_to_someone_on_a_retired_version_is_cancelled_as_without_consent(
    app, chat, db, clock, ticker
):
    await saved_lead(chat)
    await agreed_on(app, RETIRED)
    clock.advance(days=3)

    report = await ticker.tick()

    assert report.sent == 0 and reminders_received(chat) == []
    [first, later] = db("select status, outcome from followups where kind = 'reminder' order by due_at")
    assert (first["status"], first["outcome"]) == ("cancelled", "no_consent")
    assert later["status"] == "pending", "checked again when it falls due: they may have agreed by then"


async def test_a_broadcast_leaves_out_people_on_a_retired_version_but_not_on_one_still_valid(app, new_chat):
    await saved_lead(new_chat("Budi"), name="Budi Santoso", phone="+6281200000001")
    await saved_lead(new_chat("Ani"), name="Ani Lestari", phone="+6281200000002")
    await saved_lead(new_chat("Eka"), name="Eka Putri", phone="+6281200000003")
    await agreed_on(app, RETIRED, contact_id=1)
    await agreed_on(app, STILL_VALID, contact_id=2)

    async with app.dispatcher.sessions() as session:
        audience = await count_audience(session, Segment(), CONTENT.consent_versions, app.dispatcher.clock())

    assert audience.total == 2
