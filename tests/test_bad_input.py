"""Bad input and faults, one test per defect found by trying the bot as an attacker and a clumsy client would:
headers that are not ASCII, bodies nested too deep, fields of the wrong type, names no person has, a worker
pressing staff buttons, and what the log may say about any of it (tests/test_logs.py: the log itself)."""

from __future__ import annotations

import asyncio
import json
import unicodedata

import pytest

from bot.conversation.events import encode_choice
from bot.typed import MAX_MARKS
from tests.conftest import saved_lead, text_of, welcomed
from tests.fakes import whatsapp as wa
from tests.test_telegram_webhook import PATH as TELEGRAM_PATH
from tests.test_telegram_webhook import SECRET, webhook  # noqa: F401 (the Telegram webhook fixture)

WHATSAPP_PATH = "/webhook/whatsapp"
DEEP = 100_000


async def raw_post(client, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """A POST written byte by byte, for headers no HTTP client library would send; returns the status."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    lines = [b"POST " + path.encode() + b" HTTP/1.1", b"Host: localhost", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"", b""]
    writer.write(b"\r\n".join(lines) + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


def tracebacks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def deep_json(depth: int) -> bytes:
    return b'{"entry":' + b"[" * depth + b"]" * depth + b"}"


# ------------------------------------------------------------------------------------------ the webhooks


async def test_a_signature_header_that_is_not_ascii_is_refused_not_a_500(whatsapp, db, caplog):
    body, _ = wa.signed_post_args(whatsapp.user().user.text("halo"))
    headers = [(b"Content-Type", b"application/json"), (b"X-Hub-Signature-256", b"sha256=\xff\xfe\xc3\xa9")]

    status = await raw_post(whatsapp.client, WHATSAPP_PATH, headers, body)

    assert status == 403
    assert db("select count(*) from webhook_events")[0][0] == 0
    assert tracebacks(caplog) == []


async def test_a_telegram_secret_header_in_latin1_is_refused_not_a_500(webhook, db, caplog):  # noqa: F811
    update = json.dumps({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}})
    headers = [(b"Content-Type", b"application/json"), (b"X-Telegram-Bot-Api-Secret-Token", b"rahasia-\xe9\xe8")]

    status = await raw_post(webhook.client, TELEGRAM_PATH, headers, update.encode())

    assert status == 403
    assert db("select count(*) from processed_updates")[0][0] == 0
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "header", [b"X-Padding: " + b"a" * 20_000, b"X-Bad\x00Name: 1", b"X-Hub-Signature-256: sha256=" + b"\xff" * 9000]
)
async def test_a_malformed_header_is_a_400_and_one_line_in_the_log(whatsapp, db, caplog, header):
    body = json.dumps(whatsapp.user().user.text("halo")).encode()
    name, _, value = header.partition(b": ")

    status = await raw_post(whatsapp.client, WHATSAPP_PATH, [(name, value)], body)
    await asyncio.sleep(0.05)  # aiohttp logs after it answered

    assert 400 <= status < 500
    assert db("select count(*) from webhook_events")[0][0] == 0
    assert tracebacks(caplog) == []
    assert all(b"aaaa" not in r.getMessage().encode() for r in caplog.records)


async def test_a_body_over_the_limit_is_a_413(whatsapp, db):
    body = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": wa.sign(body)}

    response = await whatsapp.client.post(WHATSAPP_PATH, data=body, headers=headers)

    assert response.status == 413
    assert db("select count(*) from webhook_events")[0][0] == 0


async def test_a_verify_token_that_is_not_utf8_is_refused(whatsapp):
    query = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=%ff%fe"

    response = await whatsapp.client.get(f"{WHATSAPP_PATH}?{query}")

    assert response.status == 403


async def test_a_signed_whatsapp_body_nested_too_deep_is_a_400_and_nothing_is_kept(whatsapp, db, caplog):
    body = deep_json(DEEP)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": wa.sign(body)}

    response = await whatsapp.client.post(WHATSAPP_PATH, data=body, headers=headers)

    assert response.status == 400
    assert db("select count(*) from webhook_events")[0][0] == 0
    assert tracebacks(caplog) == []


async def test_a_telegram_update_nested_too_deep_is_a_400(webhook, db, caplog):  # noqa: F811
    body = b'{"update_id": 5, "message": ' + b"[" * DEEP + b"]" * DEEP + b"}"

    status = await webhook.post({}, body=body)

    assert status == 400
    assert db("select count(*) from processed_updates")[0][0] == 0
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": "1", "message": {}},
        {"update_id": 2, "message": 5},
        {"update_id": 3, "message": {"message_id": 1, "date": "yesterday", "chat": {"id": 1, "type": "private"}}},
        {"update_id": 4, "callback_query": {"id": 1, "from": "me", "chat_instance": "x"}},
        # Found by tests/test_fuzz.py: PTB itself uses the sender's id as a dictionary key.
        {
            "update_id": 5,
            "message": {
                "message_id": 1,
                "date": 0,
                "from": {"id": [], "is_bot": False, "first_name": "Siti"},
                "chat": {"id": 1, "type": "private"},
                "text": "halo",
            },
        },
    ],
    ids=["id-not-int", "message-not-object", "date-not-number", "sender-not-object", "sender-id-a-list"],
)
async def test_a_telegram_update_of_the_wrong_shape_is_a_400(webhook, db, caplog, update):  # noqa: F811
    assert await webhook.post(update) == 400
    assert db("select count(*) from contacts")[0][0] == 0
    assert tracebacks(caplog) == []


async def test_a_telegram_update_with_a_text_of_the_wrong_type_is_ignored_and_the_next_answered(webhook, db, caplog):  # noqa: F811
    budi = webhook.chat(7101, "Budi")
    odd = budi.user.send_text("halo")
    odd["message"]["text"] = {"not": "a text"}

    assert await webhook.post(odd) == 200
    answer = await budi.command("start")

    assert "bukan BPJS Ketenagakerjaan" in text_of(answer)
    assert tracebacks(caplog) == []


async def test_one_bad_message_in_a_batch_keeps_the_good_ones_beside_it(whatsapp, db, caplog):
    siti, budi = whatsapp.user(phone="6281234567801"), whatsapp.user(phone="6281234567802")
    body = siti.user.text("halo")
    good = body["entry"][0]["changes"][0]["value"]
    other = budi.user.text("halo")["entry"][0]["changes"][0]["value"]
    good["messages"].append({**good["messages"][0], "id": "wamid.odd", "text": ["not", "an", "object"]})
    good["messages"] += other["messages"]
    good["contacts"] += other["contacts"]

    assert await whatsapp.post(body) == 200
    await whatsapp.process()

    assert "bukan BPJS Ketenagakerjaan" in text_of_whatsapp(siti.transcript)
    assert "bukan BPJS Ketenagakerjaan" in text_of_whatsapp(budi.transcript)
    assert tracebacks(caplog) == []


async def test_a_sender_id_that_is_not_a_string_creates_no_contact(whatsapp, db, caplog):
    siti = whatsapp.user()
    body = siti.user.text("halo")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"user_id": {"a": 1}, "wa_id": 6281234567890, "profile": {"name": "x"}}]
    for message in value["messages"]:
        message["from_user_id"] = {"a": 1}
    ok = siti.user.text("halo lagi")

    assert await whatsapp.post(body) == 200
    await whatsapp.deliver(ok)

    assert [row[0] for row in db("select external_id from contacts")] == [siti.user.user_id]
    assert tracebacks(caplog) == []


async def test_a_message_id_longer_than_any_of_metas_is_skipped_not_a_failed_save(whatsapp, db, caplog):
    siti = whatsapp.user()
    body = siti.user.text("halo")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid." + "A" * 5000

    assert await whatsapp.post(body) == 200
    answer = await siti.say("halo")

    assert "bukan BPJS Ketenagakerjaan" in text_of_whatsapp(answer)
    assert "gangguan" not in text_of_whatsapp(siti.transcript)
    assert tracebacks(caplog) == []


def text_of_whatsapp(messages) -> str:
    return "\n".join(m.text for m in messages)


# ------------------------------------------------------------------------------------------ typed text


async def at_the_name_step(chat) -> None:
    """A worker who agreed to be contacted and to reminders: the bot asks their name."""
    await welcomed(chat)
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap("Boleh")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Bu\x00di Santoso", "Budi Santoso"),
        ("\u202eBudi Santoso\u202c", "Budi Santoso"),
        ("Bu\u200bdi\u2060 San\ufefftoso", "Budi Santoso"),
        ("Budi\x07 Santoso\x1b", "Budi Santoso"),
        ("Nguye\u0302\u0303n Van", "Nguy\u1ec5n Van"),  # Vietnamese: two marks, composed (NFC)
    ],
    ids=["nul", "rtl-override", "zero-width", "controls", "nfc"],
)
async def test_a_name_is_stored_clean_and_the_same_on_both_databases(chat, db, typed, stored):
    await saved_lead(chat, name=typed)

    assert [row[0] for row in db("select name from leads")] == [stored]


async def test_a_name_under_dozens_of_combining_marks_keeps_only_a_few(chat, db):
    await saved_lead(chat, name="Bu" + "di" + "\u0301" * 59 + " Santoso")

    [name] = [row[0] for row in db("select name from leads")]
    assert name.startswith("Bud") and name.endswith(" Santoso")
    assert sum(unicodedata.category(c) == "Mn" for c in name) <= MAX_MARKS


@pytest.mark.parametrize("typed", ["a\u200b", "\u200b\u200b", "\x00\x00\x00", "a\u0301\u0301\u0301", "x."])
async def test_a_name_without_two_letters_after_cleaning_is_asked_again(chat, db, typed):
    await at_the_name_step(chat)

    answer = await chat.say(typed)

    assert "nama" in text_of(answer).lower()
    assert db("select state from contacts")[0][0] == "interest/name"
    assert db("select count(*) from leads")[0][0] == 0


async def test_a_nul_in_free_text_at_any_step_never_makes_saving_fail(chat, db):
    await welcomed(chat)

    answer = await chat.say("berapa\x00 iurannya?")

    assert "16.800" in text_of(answer)
    assert "gangguan" not in text_of(answer).lower()


# ------------------------------------------------------------------------------------------ refusals


def privileged_actions(app) -> list[tuple[str, object]]:
    return sorted((name, action) for name, action in app.dispatcher.router.actions.items() if action.role is not None)


async def test_every_privileged_button_forged_by_a_worker_is_refused_and_audited(app, chat, db):
    actions = privileged_actions(app)
    assert len(actions) >= 19, "the staff buttons the issue counted"
    await welcomed(chat)

    for name, _ in actions:
        serial = db("select state_serial from contacts")[0][0]
        answer = await chat.tap_data(encode_choice(serial, f"{name}:1"))
        assert "hanya untuk" in text_of(answer).lower(), name

    refused = db("select actor_role, allowed, detail from audit_events order by id")
    assert len(refused) == len(actions)
    assert all(row[0] == "worker" and not row[1] for row in refused)
    assert db("select count(*) from campaigns")[0][0] == 0
    assert db("select count(*) from exports")[0][0] == 0


@pytest.mark.parametrize("command", ["siaran", "ekspor", "petugas", "undang", "tugas", "kode"])
async def test_a_staff_command_typed_in_the_middle_of_a_step_is_refused_and_audited(chat, db, command):
    await at_the_name_step(chat)

    answer = await chat.command(command)

    assert "hanya untuk" in text_of(answer).lower()
    assert [tuple(row) for row in db("select actor_role, allowed from audit_events")] == [("worker", False)]
