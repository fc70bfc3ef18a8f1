"""State lives in the database: a new process (here: a new app on the same file) continues the conversation."""

from bot.app import create_app
from bot.channels.telegram.channel import build_application
from tests.conftest import Chat, welcomed
from tests.fakes.telegram import FakeRequest, FakeUser


async def test_a_restart_in_the_middle_of_lead_capture_continues_at_the_same_question(app, settings, bot_api, db):
    first = build_application(app, request=FakeRequest(bot_api))
    async with first:
        chat = await welcomed(Chat(first, bot_api, FakeUser(bot_api)))
        await chat.tap("Saya tertarik")
        await chat.tap("Setuju")
        await chat.tap("Boleh")
        await chat.say("Budi")
    await app.close()

    restarted = create_app(settings)
    second = build_application(restarted, request=FakeRequest(bot_api))
    try:
        async with second:
            chat.application = second
            replies = await chat.say("081234567890")
            assert "dicatat" in replies[0].text
            await chat.tap("Mukomuko")
            await chat.tap("Siang")
            await chat.tap("Benar, simpan")
    finally:
        await restarted.close()

    assert [tuple(r) for r in db("select name, phone from leads")] == [("Budi", "+6281234567890")]
