"""Whatever a worker sends, they get a short friendly answer and nothing is stored wrongly."""

import pytest

from bot.cli.run import Runtime
from tests.conftest import text_of, welcomed
from tests.fakes.telegram import FakeRequest, FakeUser


@pytest.mark.parametrize("send", ["send_sticker", "send_photo", "send_voice", "send_video"])
async def test_media_gets_a_friendly_answer_and_the_current_step_again(chat, send):
    await welcomed(chat)

    replies = await chat.send(getattr(chat.user, send)())

    assert "hanya bisa membaca tulisan dan tombol" in replies[0].text
    assert "✋ Saya tertarik" in replies[-1].labels


async def test_location_and_document_in_the_middle_of_lead_capture_keep_the_step(chat, db):
    await welcomed(chat)
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap("Boleh")

    await chat.send(chat.user.send_location(-3.8, 102.26))
    replies = await chat.send(chat.user.send_document("ktp.jpg"))

    assert "Siapa nama Anda?" in text_of(replies)
    assert db("select state from contacts")[0]["state"] == "interest/name"


async def test_very_long_text_is_not_read(chat, db):
    await welcomed(chat)

    replies = await chat.say("tolong " * 400)

    assert "terlalu panjang" in replies[0].text
    assert db("select count(*) from leads")[0][0] == 0


async def test_emoji_only_is_answered_not_ignored(chat):
    await welcomed(chat)

    replies = await chat.say("👍👍🙏")

    assert "Maaf, saya belum mengerti" in replies[0].text


async def test_unknown_command_lists_the_real_ones(chat):
    await welcomed(chat)

    replies = await chat.command("daftar_sekarang")

    assert "Perintah itu tidak ada" in replies[0].text and "/menu" in replies[0].text


async def test_a_stale_decision_button_is_refused_and_the_current_step_shown(chat, db):
    await welcomed(chat)
    consent_message = (await chat.tap("Saya tertarik"))[0]
    await chat.tap("Tidak setuju", consent_message)

    replies = await chat.tap("Setuju", consent_message)  # the same, older message

    assert "sudah tidak berlaku" in replies[0].text
    granted = db("select granted from consents where purpose = 'lead_contact'")
    assert [row["granted"] for row in granted] == [0], "the old button recorded nothing"


async def test_an_old_navigation_button_still_works(chat):
    await welcomed(chat)
    menu = chat.last_with_buttons()
    await chat.tap("Manfaatnya")

    replies = await chat.tap("Cara daftar", menu)

    assert replies[0].text.startswith("Anda bisa daftar sendiri lewat aplikasi JMO")


@pytest.mark.parametrize("data", ["hack", "1|nonexistent", "99|occ:astronot", "0|lead_save", "x|menu", "1|" + "a" * 70])
async def test_forged_callback_data_gets_a_friendly_answer_and_stores_nothing(chat, db, data):
    await welcomed(chat)

    replies = await chat.tap_data(data)

    assert replies, "never silence"
    assert "tombol" in replies[0].text.lower()
    assert db("select count(*) from leads")[0][0] == 0
    assert db("select occupation from contacts")[0]["occupation"] == "nelayan"


async def test_every_tap_is_acknowledged_so_the_spinner_stops(chat, bot_api):
    await welcomed(chat)
    await chat.tap_data("forged")

    assert len(bot_api.calls_of("answerCallbackQuery")) == 2


async def test_a_redelivered_update_is_applied_once(chat, db):
    await welcomed(chat)
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap("Boleh")
    update = chat.user.send_text("Budi")

    first = await chat.send(update)
    second = await chat.send(update)

    assert "Nomor HP" in text_of(first)
    assert second == []
    assert db("select state from contacts")[0]["state"] == "interest/phone"


async def test_group_chats_are_ignored(telegram, bot_api):
    from telegram import Update

    user = FakeUser(bot_api)
    update = user.send_text("halo")
    update["message"]["chat"] = {"id": -100123, "type": "group", "title": "Kelompok Tani"}

    await telegram.process_update(Update.de_json(update, telegram.bot))

    assert bot_api.sent(-100123) == []


async def test_update_ids_past_the_redelivery_window_are_forgotten_by_the_housekeeping_job(app, chat, bot_api, db):
    await welcomed(chat)
    first = "(select min(update_key) from processed_updates)"  # /start: update ids grow, all of one length here
    db(f"update processed_updates set processed_at = '2026-11-15 02:59:00.000000' where update_key = {first}")
    runtime = Runtime(app, telegram_request=FakeRequest(bot_api))

    await runtime.forget_old_updates()

    assert db("select count(*) from processed_updates")[0][0] == 1  # /start forgotten (8 days ago), the tap kept


async def test_the_bot_keeps_nothing_per_person_in_memory_once_it_answered(telegram, new_chat):
    """PTB 22 keeps every user's and chat's id for a persistence the bot does not use: one entry per person
    who ever wrote, for as long as the process runs (bot/channels/telegram/channel.py turns that off)."""
    for user_id in (9101, 9102, 9103):
        await new_chat(user_id=user_id).command("start")

    assert telegram._user_ids_to_be_updated_in_persistence == set()
    assert telegram._chat_ids_to_be_updated_in_persistence == set()
