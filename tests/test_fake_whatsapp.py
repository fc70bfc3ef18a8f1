"""Tests for the offline WhatsApp Cloud API fake: Meta's limits, errors, webhooks, and both ways of reaching it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.whatsapp import (
    APP_SECRET,
    GRAPH_VERSION,
    PHONE_NUMBER_ID,
    TEST_TOKEN,
    VERIFY_TOKEN,
    WABA_ID,
    Call,
    FakeGraphServer,
    FakeWhatsAppAPI,
    FakeWhatsAppUser,
    SentWhatsApp,
    post_to_bot,
    sign,
    signed_post_args,
    verify_webhook,
)

TEMPLATES = {"bpu_pengingat": {"id": 1, "en": 1}}
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
PATH = f"/{PHONE_NUMBER_ID}/messages"
DAY = 24 * 3600.0


class ManualClock:
    """Time that moves only when a test moves it, so no test waits for a window to pass."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_795_000_000.0)


@pytest.fixture
def monotonic() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
def api(clock: ManualClock, monotonic: ManualClock) -> FakeWhatsAppAPI:
    return FakeWhatsAppAPI(templates=TEMPLATES, clock=clock, monotonic=monotonic)


@pytest.fixture
def user(api: FakeWhatsAppAPI) -> FakeWhatsAppUser:
    return FakeWhatsAppUser(api)


@pytest.fixture
async def graph(api: FakeWhatsAppAPI) -> AsyncIterator[httpx.AsyncClient]:
    base_url = f"https://graph.facebook.com/{GRAPH_VERSION}"
    async with httpx.AsyncClient(transport=api.transport(), base_url=base_url, headers=AUTH) as client:
        yield client


# ------------------------------------------------------------------------------------------ message bodies


def envelope(recipient: str | None, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if recipient is not None:
        body["recipient"] = recipient
    return {**body, **content, **extra}


def text(body: str = "Halo") -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def buttons(*pairs: tuple[str, str], body: str = "Pilih") -> dict[str, Any]:
    replies = [{"type": "reply", "reply": {"id": reply_id, "title": title}} for title, reply_id in pairs]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": replies}},
    }


Row = tuple[str, str | None, str]


def row(n: int, title: str | None = None, description: str | None = None) -> Row:
    return (title or f"Pilihan {n}", description, f"row-{n}")


def listing(*sections: list[Row], titled: bool = True, body: str = "Pilih topik") -> dict[str, Any]:
    built = []
    for n, rows in enumerate(sections):
        section: dict[str, Any] = {"rows": []}
        if titled:
            section["title"] = f"Bagian {n}"
        for title, description, row_id in rows:
            entry = {"id": row_id, "title": title}
            if description is not None:
                entry["description"] = description
            section["rows"].append(entry)
        built.append(section)
    return {
        "type": "interactive",
        "interactive": {"type": "list", "body": {"text": body}, "action": {"button": "Menu", "sections": built}},
    }


def template(
    name: str = "bpu_pengingat",
    language: str = "id",
    params: tuple[str, ...] = ("Siti",),
    payloads: tuple[str, ...] = (),
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {"type": "body", "parameters": [{"type": "text", "text": param} for param in params]}
    ]
    components += [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(n),
            "parameters": [{"type": "payload", "payload": p}],
        }
        for n, p in enumerate(payloads)
    ]
    return {"type": "template", "template": {"name": name, "language": {"code": language}, "components": components}}


async def send(graph: httpx.AsyncClient, body: dict[str, Any], path: str = PATH) -> tuple[int, dict[str, Any]]:
    response = await graph.post(path, json=body)
    return response.status_code, response.json()


def error_code(answer: dict[str, Any]) -> int | None:
    return answer.get("error", {}).get("code")


def statuses_of(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [status for body in bodies for status in body["entry"][0]["changes"][0]["value"]["statuses"]]


def message_of(body: dict[str, Any]) -> dict[str, Any]:
    [message] = body["entry"][0]["changes"][0]["value"]["messages"]
    return message


# ------------------------------------------------------------------------------------------ sending and limits


async def test_a_text_is_answered_like_graph_and_recorded(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser, clock: ManualClock
) -> None:
    user.text("halo")
    body = envelope(user.user_id, text("Halo, Siti 👋"), to=user.phone, biz_opaque_callback_data="delivery:7")

    status, answer = await send(graph, body)

    assert status == 200
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": user.user_id, "user_id": user.user_id, "wa_id": user.phone}]
    [message] = answer["messages"]
    [sent] = api.sent(user.user_id)
    assert message["id"].startswith("wamid.") and sent.message_id == message["id"]
    assert (sent.recipient, sent.kind, sent.text, sent.callback_data, sent.at) == (
        user.user_id,
        "text",
        "Halo, Siti 👋",
        "delivery:7",
        clock.now,
    )
    assert sent.payload == body
    assert api.sent(user.phone) == [sent] == user.inbox()
    assert api.calls() == [Call(f"/{GRAPH_VERSION}{PATH}", body, 200)]
    assert api.transcript(user.user_id) == "user: 'halo'\nbot: 'Halo, Siti 👋'"


async def test_a_send_by_phone_only_is_matched_to_the_known_user(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    status, answer = await send(graph, envelope(None, text(), to=user.phone))

    assert status == 200
    assert answer["contacts"] == [{"input": user.phone, "wa_id": user.phone}]
    [sent] = api.sent(user.user_id)
    assert (sent.recipient, sent.user_id, sent.phone) == (user.phone, user.user_id, user.phone)


ACCEPTED = {
    "3 buttons": buttons(("A", "a"), ("B", "b"), ("C", "c")),
    "20-character button title": buttons(("x" * 20, "a")),
    "256-character button id": buttons(("A", "a" * 256)),
    "10 rows over 2 sections": listing([row(n) for n in range(5)], [row(n) for n in range(5, 10)]),
    "24-character row title": listing([row(0, title="x" * 24)]),
    "72-character description": listing([row(0, description="x" * 72)]),
    "one untitled section": listing([row(0)], titled=False),
    "4096-character text": text("x" * 4096),
    "4096 emoji count as characters": text("👍" * 4096),
    "1024-character button body": buttons(("A", "a"), body="x" * 1024),
    "4 consecutive spaces in a template parameter": template(params=("Siti    Aminah",)),
    "template in another approved language": template(language="en"),
}


@pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_messages_just_within_meta_limits_are_accepted(
    graph: httpx.AsyncClient, user: FakeWhatsAppUser, content: dict[str, Any]
) -> None:
    status, answer = await send(graph, envelope(user.user_id, content))
    assert (status, error_code(answer)) == (200, None), answer


REFUSED = {
    "4 buttons": (buttons(("A", "a"), ("B", "b"), ("C", "c"), ("D", "d")), 131009, "buttons count invalid"),
    "no buttons": (buttons(), 131009, "buttons count invalid"),
    "21-character button title": (buttons(("x" * 21, "a")), 131009, "reply.title length invalid"),
    "257-character button id": (buttons(("A", "a" * 257)), 131009, "reply.id length invalid"),
    "duplicate button ids": (buttons(("A", "a"), ("B", "a")), 131009, "button ids must be unique"),
    "duplicate button titles": (buttons(("A", "a"), ("A", "b")), 131009, "button titles must be unique"),
    "1025-character button body": (buttons(("A", "a"), body="x" * 1025), 131009, "body.text length invalid"),
    "11 rows over 2 sections": (
        listing([row(n) for n in range(5)], [row(n) for n in range(5, 11)]),
        131009,
        "list rows count invalid",
    ),
    "11 rows in a section": (listing([row(n) for n in range(11)]), 131009, "rows count invalid"),
    "25-character row title": (listing([row(0, title="x" * 25)]), 131009, "rows[0].title length invalid"),
    "73-character description": (listing([row(0, description="x" * 73)]), 131009, "description length invalid"),
    "duplicate row ids across sections": (
        listing([row(0)], [("Lain", None, "row-0")]),
        131009,
        "row ids must be unique",
    ),
    "untitled sections when there are two": (
        listing([row(0)], [row(1)], titled=False),
        131009,
        "sections[0].title must be a string",
    ),
    "11 sections": (listing(*[[row(n)] for n in range(11)]), 131009, "sections count invalid"),
    "4097-character text": (text("x" * 4097), 131009, "text.body length invalid"),
    "empty text": (text(""), 131009, "text.body length invalid"),
    "media the fake does not emulate": ({"type": "video", "video": {"id": "1"}}, 131009, "'video'"),
    "an image never uploaded": ({"type": "image", "image": {"id": "1"}}, 131009, "no media '1' was uploaded"),
    "an image by link": ({"type": "image", "image": {"link": "https://x.invalid/a.png"}}, 131009, "image.link"),
    "unknown template": (template(name="promo_lebaran"), 132001, "(promo_lebaran) does not exist in id"),
    "template in an unapproved language": (template(language="ms"), 132001, "does not exist in ms"),
    "template without its parameter": (template(params=()), 132000, "(0) does not match the expected number"),
    "template with a parameter too many": (template(params=("a", "b")), 132000, "(2) does not match"),
    "newline in a template parameter": (template(params=("Siti\nAminah",)), 132018, "new-line/tab"),
    "tab in a template parameter": (template(params=("Siti\tAminah",)), 132018, "new-line/tab"),
    "5 consecutive spaces in a template parameter": (template(params=("Siti     Aminah",)), 132018, "4 consecutive"),
}


@pytest.mark.parametrize(("content", "code", "details"), REFUSED.values(), ids=REFUSED.keys())
async def test_messages_past_meta_limits_are_refused_with_graphs_error(
    api: FakeWhatsAppAPI,
    graph: httpx.AsyncClient,
    user: FakeWhatsAppUser,
    content: dict[str, Any],
    code: int,
    details: str,
) -> None:
    status, answer = await send(graph, envelope(user.user_id, content))

    assert status == 400
    error = answer["error"]
    assert error["code"] == code and error["message"].startswith(f"(#{code}) ")
    assert error["type"] == "OAuthException" and isinstance(error["fbtrace_id"], str)
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert details in error["error_data"]["details"]
    assert api.sent() == []
    assert api.calls()[-1].status == 400 and api.calls()[-1].error_code == code
    assert f"send refused: {code}" in api.transcript(user.user_id)


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"recipient_type": "individual", "recipient": "ID.1", **text()}, "messaging_product"),
        (envelope(None, text()), "recipient or to is required"),
        (envelope("6281234567890", text()), "business-scoped user id"),
        (envelope(None, text(), to="0812-3456"), "phone number in digits"),
        (envelope("ID.1", text(), biz_opaque_callback_data="x" * 513), "biz_opaque_callback_data length invalid"),
    ],
    ids=["no messaging_product", "no addressee", "phone as recipient", "malformed to", "513-character callback data"],
)
async def test_envelope_mistakes_are_refused(graph: httpx.AsyncClient, body: dict[str, Any], details: str) -> None:
    status, answer = await send(graph, body)
    assert (status, error_code(answer)) == (400, 131009)
    assert details in answer["error"]["error_data"]["details"]


async def test_512_characters_of_callback_data_are_accepted_and_any_version_is_served(
    graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    body = envelope(user.user_id, text(), biz_opaque_callback_data="x" * 512)
    status, _ = await send(graph, body, path=f"https://graph.facebook.com/v19.0{PATH}")
    assert status == 200


async def test_token_phone_number_id_path_and_body_are_checked_in_graphs_order(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    body = envelope(user.user_id, text())
    async with httpx.AsyncClient(transport=api.transport(), base_url=str(graph.base_url)) as anonymous:
        missing = await anonymous.post(PATH, json=body)
    wrong = await graph.post(PATH, json=body, headers={"Authorization": "Bearer EAAnope"})
    unknown_number = await graph.post("/999999999999999/messages", json=body)
    unknown_path = await graph.post(f"/{PHONE_NUMBER_ID}/register", json=body)
    wrong_method = await graph.get(PATH)
    not_json = await graph.post(PATH, content=b"recipient=ID.1", headers={"Content-Type": "text/plain"})

    assert [response.status_code for response in (missing, wrong)] == [401, 401]
    assert wrong.json()["error"]["code"] == 190 and wrong.json()["error"]["type"] == "OAuthException"
    assert (unknown_number.status_code, unknown_number.json()["error"]["code"]) == (400, 100)
    assert "999999999999999" in unknown_number.json()["error"]["message"]
    assert unknown_path.status_code == wrong_method.status_code == 404
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, 100)
    assert [(call.status, call.error_code) for call in api.calls()] == [
        (401, 190),
        (401, 190),
        (400, 100),
        (404, 2500),
        (404, 2500),
        (400, 100),
    ]
    assert api.calls()[0].body == body and api.calls()[-1].body == {}
    assert api.sent() == []


async def test_a_template_is_recorded_with_its_parameters_and_payloads(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    status, _ = await send(graph, envelope(user.user_id, template(params=("Siti",), payloads=("sudah", "belum"))))

    assert status == 200
    [sent] = api.sent(user.user_id)
    assert (sent.kind, sent.template_name, sent.template_language) == ("template", "bpu_pengingat", "id")
    assert (sent.template_params, sent.template_payloads, sent.text) == (
        ["Siti"],
        ["sudah", "belum"],
        "bpu_pengingat | Siti",
    )


# ------------------------------------------------------------------------------------------ throughput and windows


async def test_throughput_past_80_in_a_second_is_refused_until_the_window_moves(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser, monotonic: ManualClock
) -> None:
    body = envelope(user.user_id, template())
    for _ in range(80):
        assert (await send(graph, body))[0] == 200

    status, answer = await send(graph, body)
    assert (status, error_code(answer)) == (400, 130429)
    assert answer["error"]["message"] == "(#130429) Rate limit hit"

    monotonic.now += 0.5
    assert error_code((await send(graph, body))[1]) == 130429
    monotonic.now += 0.5
    assert (await send(graph, body))[0] == 200
    assert len(api.sent()) == 81 and api.max_in_any_second() == 80


async def test_free_form_messages_fail_by_status_131047_outside_the_24_hour_window(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser, clock: ManualClock
) -> None:
    stranger = FakeWhatsAppUser(api, phone="6281299990000")
    user.text("halo")
    clock.now += DAY
    await send(graph, envelope(user.user_id, text("masih dalam jendela")))
    clock.now += 1
    status, answer = await send(graph, envelope(user.user_id, text("sudah lewat")))
    await send(graph, envelope(stranger.user_id, buttons(("Ya", "yes"))))
    await send(graph, envelope(stranger.user_id, template()))

    assert status == 200 and answer["messages"][0]["id"].startswith("wamid.")
    within, late, unprompted, reminder = api.sent()
    statuses = statuses_of(api.take_statuses())
    assert [s["status"] for s in statuses if s["id"] == within.message_id] == ["sent", "delivered", "read"]
    for sent in (late, unprompted):
        [failed] = [s for s in statuses if s["id"] == sent.message_id]
        assert failed["status"] == "failed"
        [error] = failed["errors"]
        assert (error["code"], error["title"]) == (131047, "Re-engagement message")
        assert "24 hours" in error["error_data"]["details"]
    assert [s["status"] for s in statuses if s["id"] == reminder.message_id] == ["sent", "delivered", "read"]
    assert "failed 131047" in api.transcript(stranger.phone or "")


async def test_fail_next_on_send_answers_the_error_for_that_recipient_only(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    other = FakeWhatsAppUser(api, phone="6281299990001")
    api.fail_next(user.user_id, 131056)
    # Queued under the phone, it still meets a send addressed by business-scoped id.
    api.fail_next(user.phone or "", 131048, times=2, details="paused")

    first = await send(graph, envelope(user.user_id, template()))
    assert (await send(graph, envelope(other.user_id, template())))[0] == 200
    second = await send(graph, envelope(user.user_id, template()))
    third = await send(graph, envelope(user.user_id, template()))
    fourth = await send(graph, envelope(user.user_id, template()))

    assert [(status, error_code(answer)) for status, answer in (first, second, third, fourth)] == [
        (400, 131056),
        (400, 131048),
        (400, 131048),
        (200, None),
    ]
    assert second[1]["error"]["error_data"]["details"] == "paused"
    assert len(api.sent(user.user_id)) == 1
    with pytest.raises(ValueError, match="on must be"):
        api.fail_next(user.user_id, 131026, on="later")  # type: ignore[arg-type]


async def test_fail_next_on_status_accepts_the_send_and_reports_it_failed(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    user.text("halo")
    api.fail_next(user.user_id, 131026, on="status", details="not on WhatsApp")
    # A refused send leaves the programmed failure for the next accepted one.
    assert (await send(graph, envelope(user.user_id, text(""))))[0] == 400

    status, answer = await send(graph, envelope(user.user_id, text(), biz_opaque_callback_data="delivery:9"))
    await send(graph, envelope(user.user_id, text()))

    assert status == 200
    first, second = statuses_of(api.take_statuses())[:2]
    assert first["id"] == answer["messages"][0]["id"] and first["status"] == "failed"
    assert first["biz_opaque_callback_data"] == "delivery:9"
    assert first["errors"] == [
        {
            "code": 131026,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": {"details": "not on WhatsApp"},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
    ]
    assert second["status"] == "sent"


# ------------------------------------------------------------------------------------------ status webhooks


async def test_statuses_come_in_full_webhook_bodies_with_callback_data_echoed(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser, clock: ManualClock
) -> None:
    user.text("halo")
    await send(graph, envelope(user.user_id, text(), biz_opaque_callback_data="delivery:42"))
    [sent] = api.sent()

    bodies = api.take_statuses()

    assert len(bodies) == 3 and api.take_statuses() == []
    body = bodies[0]
    assert body["object"] == "whatsapp_business_account" and body["entry"][0]["id"] == WABA_ID
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    assert change["value"]["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
    assert change["value"]["messaging_product"] == "whatsapp"
    statuses = statuses_of(bodies)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    for status in statuses:
        assert status["id"] == sent.message_id and status["timestamp"] == str(int(clock.now))
        assert (status["recipient_id"], status["recipient_user_id"]) == (user.phone, user.user_id)
        assert status["biz_opaque_callback_data"] == "delivery:42"
    assert statuses[0]["pricing"]["category"] == "service"


async def test_statuses_can_arrive_reversed_shuffled_and_batched(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    hidden = FakeWhatsAppUser(api, phone=None, username="nelayan.bengkulu")

    async def delivered(**options: Any) -> list[dict[str, Any]]:
        for recipient in (user.user_id, hidden.user_id):
            await send(graph, envelope(recipient, template()))
        return api.take_statuses(**options)

    def pattern(bodies: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(s["recipient_user_id"], s["status"]) for s in statuses_of(bodies)]

    in_order = pattern(await delivered())
    assert in_order == [(user.user_id, s) for s in ("sent", "delivered", "read")] + [
        (hidden.user_id, s) for s in ("sent", "delivered", "read")
    ]
    assert pattern(await delivered(order="reverse")) == in_order[::-1]
    shuffled = pattern(await delivered(order="shuffle", seed=3))
    assert shuffled == pattern(await delivered(order="shuffle", seed=3)) != in_order
    assert sorted(shuffled) == sorted(in_order)
    batched = await delivered(per_body=4)
    assert [len(body["entry"][0]["changes"][0]["value"]["statuses"]) for body in batched] == [4, 2]
    hidden_statuses = [s for s in statuses_of(batched) if s["recipient_user_id"] == hidden.user_id]
    assert hidden_statuses and all("recipient_id" not in s for s in hidden_statuses)
    with pytest.raises(ValueError, match="per_body"):
        api.take_statuses(per_body=0)


# ------------------------------------------------------------------------------------------ the user's webhooks


def test_a_user_with_a_phone_writes_full_webhook_bodies(api: FakeWhatsAppAPI, clock: ManualClock) -> None:
    user = FakeWhatsAppUser(api, name="Siti Aminah")

    body = user.text("brp iurannya")

    assert user.user_id == "ID.1000000000000001"
    value = body["entry"][0]["changes"][0]["value"]
    assert body["object"] == "whatsapp_business_account" and value["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
    assert value["contacts"] == [
        {"profile": {"name": "Siti Aminah"}, "user_id": user.user_id, "wa_id": "6281234567890"}
    ]
    message = message_of(body)
    assert (message["from"], message["from_user_id"], message["type"]) == ("6281234567890", user.user_id, "text")
    assert message["text"] == {"body": "brp iurannya"}
    assert message["timestamp"] == str(int(clock.now)) and message["id"].startswith("wamid.")


def test_a_username_user_comes_without_a_phone(api: FakeWhatsAppAPI) -> None:
    user = FakeWhatsAppUser(api, phone=None, username="siti.nelayan")

    body = user.text("halo")

    [contact] = body["entry"][0]["changes"][0]["value"]["contacts"]
    assert contact == {"profile": {"name": "Siti", "username": "siti.nelayan"}, "user_id": user.user_id}
    message = message_of(body)
    assert "from" not in message and message["from_user_id"] == user.user_id


def test_media_and_other_inbound_kinds(api: FakeWhatsAppAPI, user: FakeWhatsAppUser) -> None:
    greeting = message_of(user.text("halo"))
    bodies = {
        "image": user.image(),
        "sticker": user.sticker(),
        "audio": user.audio(),
        "video": user.video(),
        "document": user.document(),
        "location": user.location(-3.8, 102.26),
        "contacts": user.contacts("+6281377778888", "Budi Santoso"),
        "reaction": user.reaction("👍", greeting["id"]),
    }
    for kind, body in bodies.items():
        message = message_of(body)
        assert message["type"] == kind and kind in message, kind
    assert message_of(bodies["audio"])["audio"]["voice"] is True
    assert message_of(user.audio(voice=False))["audio"]["voice"] is False
    assert message_of(bodies["location"])["location"] == {"latitude": -3.8, "longitude": 102.26}
    [card] = message_of(bodies["contacts"])["contacts"]
    assert card["name"]["formatted_name"] == "Budi Santoso"
    assert card["phones"] == [{"phone": "+6281377778888", "wa_id": "6281377778888", "type": "CELL"}]
    assert message_of(bodies["reaction"])["reaction"] == {"message_id": greeting["id"], "emoji": "👍"}
    media_ids = [message_of(bodies[kind])[kind]["id"] for kind in ("image", "sticker", "audio", "video", "document")]
    assert len(set(media_ids)) == 5

    unsupported = message_of(user.unsupported())
    assert unsupported["type"] == "unsupported" and unsupported["errors"][0]["code"] == 131051
    ids = [greeting["id"], *(message_of(body)["id"] for body in bodies.values()), unsupported["id"]]
    assert len(set(ids)) == len(ids)
    assert "user: [location -3.8, 102.26]" in api.transcript(user.user_id)


def test_a_redelivery_repeats_the_message_id(user: FakeWhatsAppUser) -> None:
    body = user.text("halo")
    again = user.redeliver(body)
    assert again == body and again is not body
    assert message_of(again)["id"] == message_of(body)["id"]


def test_users_need_phones_of_their_own(api: FakeWhatsAppAPI, user: FakeWhatsAppUser) -> None:
    with pytest.raises(ValueError, match="already belongs to"):
        FakeWhatsAppUser(api)
    assert FakeWhatsAppUser(api, user_id=user.user_id).phone == user.phone


def test_writing_opens_the_window(
    api: FakeWhatsAppAPI, user: FakeWhatsAppUser, clock: ManualClock, monotonic: ManualClock
) -> None:
    def delivered() -> bool:
        status, _ = api.handle(
            "POST",
            f"/{GRAPH_VERSION}{PATH}",
            f"Bearer {TEST_TOKEN}",
            json.dumps(envelope(user.user_id, text())).encode(),
        )
        assert status == 200
        return statuses_of(api.take_statuses())[0]["status"] == "sent"

    assert not delivered()
    user.sticker()
    assert delivered()
    clock.now += DAY + 1
    assert not delivered()
    api.note_inbound(user.user_id)
    assert delivered()


async def test_taps_answer_the_latest_interactive_message(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    user.text("halo")
    with pytest.raises(AssertionError, match="sent no interactive message"):
        user.tap("Ya")
    await send(graph, envelope(user.user_id, buttons(("✅ Ya", "consent:yes"), ("❌ Tidak", "consent:no"))))
    await send(graph, envelope(user.user_id, text("tanpa tombol")))
    [question, _] = api.sent(user.user_id)

    button = message_of(user.tap("Ya"))

    assert button["type"] == "interactive" and button["context"]["id"] == question.message_id
    assert button["interactive"] == {"type": "button_reply", "button_reply": {"id": "consent:yes", "title": "✅ Ya"}}
    with pytest.raises(AssertionError, match=r"found 2; there are \['✅ Ya', '❌ Tidak'\]"):
        user.tap("a")
    with pytest.raises(AssertionError, match="found 0"):
        user.tap("Mungkin")

    await send(graph, envelope(user.user_id, listing([row(1, "🎣 Nelayan", "Melaut"), row(2, "🌾 Petani")])))
    picked = message_of(user.tap("Nelayan"))["interactive"]
    assert picked == {
        "type": "list_reply",
        "list_reply": {"id": "row-1", "title": "🎣 Nelayan", "description": "Melaut"},
    }
    assert message_of(user.tap("Petani"))["interactive"]["list_reply"] == {"id": "row-2", "title": "🌾 Petani"}
    older = message_of(user.tap("Tidak", message=question))
    assert older["interactive"]["button_reply"]["id"] == "consent:no"
    assert "user: taps '✅ Ya' (consent:yes)" in api.transcript(user.user_id)


async def test_forged_taps_and_template_quick_replies(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    forged = message_of(user.tap_id("admin:delete", kind="list_reply", context_id="wamid.old"))
    assert forged["interactive"] == {"type": "list_reply", "list_reply": {"id": "admin:delete", "title": "x"}}
    assert forged["context"]["id"] == "wamid.old"
    assert "context" not in message_of(user.tap_id("stale"))

    with pytest.raises(AssertionError, match="sent no template"):
        user.template_tap()
    await send(graph, envelope(user.user_id, template(payloads=("followup:done", "followup:help"))))
    [reminder] = api.sent(user.user_id)

    done = message_of(user.template_tap())
    assert done["type"] == "button" and done["context"]["id"] == reminder.message_id
    assert done["button"] == {"payload": "followup:done", "text": "followup:done"}
    helped = message_of(user.template_tap(1, text="🙋 Belum, bantu saya"))
    assert helped["button"] == {"payload": "followup:help", "text": "🙋 Belum, bantu saya"}
    with pytest.raises(AssertionError, match="2 quick reply payload"):
        user.template_tap(2)
    assert message_of(user.template_button("x", "Ya"))["button"] == {"payload": "x", "text": "Ya"}


async def test_forget_history_keeps_what_can_still_be_tapped(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    for content in (buttons(("Lama", "old")), buttons(("Baru", "new")), template(payloads=("p",)), text()):
        await send(graph, envelope(user.user_id, content))

    api.forget_history()

    assert [sent.kind for sent in api.sent(user.user_id)] == ["buttons", "template"]
    assert api.calls() == [] and api.transcript(user.user_id) == "(empty)"
    assert message_of(user.tap("Baru"))["interactive"]["button_reply"]["id"] == "new"
    assert message_of(user.template_tap())["button"]["payload"] == "p"
    assert api.max_in_any_second() == 4


# ------------------------------------------------------------------------------------------ signatures


def test_signed_post_args_are_meta_bytes_with_a_verifiable_signature() -> None:
    payload = {"object": "whatsapp_business_account", "note": "Iuran Rp16.800/bulan ✅"}

    body, headers = signed_post_args(payload)

    assert headers["Content-Type"] == "application/json"
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    assert sign(body, APP_SECRET) == expected and sign(body, "other") != expected
    assert json.loads(body) == payload
    # Escaped as Meta escapes them, so only the raw bytes verify.
    assert b"\\/" in body and b"\\u2705" in body and body != json.dumps(payload).encode()


# ------------------------------------------------------------------------------------------ media

MEDIA = f"/{PHONE_NUMBER_ID}/media"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # binary, CR LF and all: multipart must keep every byte


def upload_form(mime: str = "image/png", content: bytes = PNG, name: str = "kartu.png") -> dict[str, Any]:
    return {"data": {"messaging_product": "whatsapp", "type": mime}, "files": {"file": (name, content, mime)}}


async def test_a_file_uploaded_to_the_media_endpoint_is_sent_as_an_image_or_a_document(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    user.text("halo")
    image = (await graph.post(MEDIA, **upload_form())).json()["id"]
    csv_form = upload_form("text/plain", b"nama,status\r\nBudi,terkirim\r\n", "r.csv")
    report = (await graph.post(MEDIA, **csv_form)).json()["id"]

    shown = await graph.post(
        PATH, json=envelope(user.user_id, {"type": "image", "image": {"id": image, "caption": "Kartu"}})
    )
    filed = await graph.post(
        PATH, json=envelope(user.user_id, {"type": "document", "document": {"id": report, "filename": "siaran-1.csv"}})
    )

    assert shown.status_code == filed.status_code == 200
    picture, document = api.sent(user.user_id)
    assert (picture.kind, picture.text, picture.media) == ("image", "Kartu", api.media(image))
    assert api.media(image).content == PNG and api.media(image).filename == "kartu.png"
    assert (document.kind, document.filename, document.text) == ("document", "siaran-1.csv", "")
    assert document.media is not None and document.media.content.endswith(b"Budi,terkirim\r\n")
    assert [call.body for call in api.calls()[:1]] == [
        {"messaging_product": "whatsapp", "type": "image/png", "file": {"filename": "kartu.png", "size": len(PNG)}}
    ]


@pytest.mark.parametrize(
    ("form", "details"),
    [
        (upload_form("text/csv", b"a,b", "r.csv"), "Received file of type 'text/csv'"),
        (upload_form("image/png", b"x" * (5 * 1024 * 1024 + 1)), "at most 5 MB for image"),
        (upload_form("image/png", b""), "must not be empty"),
        ({"data": {"type": "image/png"}, "files": {"file": ("k.png", PNG, "image/png")}}, "messaging_product is"),
        ({"data": {"messaging_product": "whatsapp", "type": "image/png"}}, "file is required"),
        ({"json": {"messaging_product": "whatsapp"}}, "file is required"),
    ],
    ids=["csv", "image over 5 MB", "empty", "no messaging_product", "no file", "JSON, not multipart"],
)
async def test_an_upload_meta_would_refuse_is_refused_and_kept_nowhere(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, form: dict[str, Any], details: str
) -> None:
    answer = await graph.post(MEDIA, **form)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100 and details in error["error_data"]["details"]
    assert api.uploads() == []


async def test_an_image_message_cannot_carry_a_document_and_an_upload_needs_the_token(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    report = (await graph.post(MEDIA, **upload_form("application/pdf", b"%PDF-1.4", "r.pdf"))).json()["id"]
    wrong = await graph.post(PATH, json=envelope(user.user_id, {"type": "image", "image": {"id": report}}))
    anonymous = await graph.post(MEDIA, **upload_form(), headers={"Authorization": "Bearer EAAnope"})

    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, 131009)
    assert "application/pdf" in wrong.json()["error"]["error_data"]["details"]
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, 190)
    assert len(api.uploads()) == 1 and api.sent() == []


def test_an_upload_over_http_keeps_every_byte() -> None:
    with FakeGraphServer() as server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as client:
        answer = client.post(MEDIA, **upload_form())

    assert answer.status_code == 200 and server.api.media(answer.json()["id"]).content == PNG


# ------------------------------------------------------------------------------------------ over HTTP


def test_server_round_trip_with_a_sync_client() -> None:
    api = FakeWhatsAppAPI(templates=TEMPLATES)
    user = FakeWhatsAppUser(api)
    user.text("halo")
    with FakeGraphServer(api) as server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as client:
        assert server.base_url == f"http://127.0.0.1:{server.port}/{GRAPH_VERSION}"
        accepted = client.post(PATH, json=envelope(user.user_id, text("Halo")))
        refused = client.post(PATH, json=envelope(user.user_id, buttons()))
        unauthorised = client.post(PATH, json=envelope(user.user_id, text()), headers={"Authorization": "Bearer x"})
        missing = client.post(f"/{PHONE_NUMBER_ID}/nothing", json={})

    assert accepted.status_code == 200 and accepted.headers["Content-Type"] == "application/json"
    assert accepted.json()["messages"][0]["id"] == api.sent(user.user_id)[0].message_id
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, 131009)
    assert (unauthorised.status_code, unauthorised.json()["error"]["code"]) == (401, 190)
    assert missing.status_code == 404
    assert [call.status for call in api.calls()] == [200, 400, 401, 404]


def test_a_stalled_answer_times_the_client_out_though_the_message_went() -> None:
    with FakeGraphServer() as server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=0.05) as client:
        user = FakeWhatsAppUser(server.api)
        server.api.stall(user.user_id, 0.3)
        with pytest.raises(httpx.ReadTimeout):
            client.post(PATH, json=envelope(user.user_id, text()))
        assert len(server.api.sent(user.user_id)) == 1
        # A stall holds back one answer only.
        assert client.post(PATH, json=envelope(user.user_id, text())).status_code == 200


async def test_an_in_process_stall_delays_the_answer(
    api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    api.stall(user.user_id, 0.3)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await send(graph, envelope(user.user_id, text()))
    assert len(api.sent(user.user_id)) == 1


def test_wait_for_sent_wakes_on_a_send_from_another_thread() -> None:
    with FakeGraphServer() as server:
        user = FakeWhatsAppUser(server.api)
        sender = threading.Timer(
            0.05,
            httpx.post,
            args=(server.base_url + PATH,),
            kwargs={"json": envelope(user.user_id, text()), "headers": AUTH},
        )
        sender.start()
        [sent] = server.api.wait_for_sent(user.user_id, 1, timeout=5)
        sender.join()
    assert sent.text == "Halo"


def test_wait_for_sent_times_out_with_the_transcript(api: FakeWhatsAppAPI, user: FakeWhatsAppUser) -> None:
    user.text("halo?")
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)got 0\..*user: 'halo\?'"):
        api.wait_for_sent(user.user_id, 1, timeout=0.05)
    assert time.monotonic() - started < 1


async def test_wait_for_sent_async(api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser) -> None:
    async def later() -> None:
        await asyncio.sleep(0.01)
        await send(graph, envelope(user.user_id, text()))

    task = asyncio.create_task(later())
    [sent] = await api.wait_for_sent_async(user.user_id, 1, within=2)
    await task
    assert sent.kind == "text"
    with pytest.raises(AssertionError, match="at least 2 message"):
        await api.wait_for_sent_async(user.user_id, 2, within=0.05)


class _BotWebhook(BaseHTTPRequestHandler):
    """The bot's side, as small as it gets: verification, and signed POSTs checked over the raw bytes."""

    server: _WebhookServer

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        if query.get("hub.mode") == ["subscribe"] and query.get("hub.verify_token") == [VERIFY_TOKEN]:
            self._answer(200, query["hub.challenge"][0].encode())
        else:
            self._answer(403, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signature = self.headers.get("X-Hub-Signature-256", "")
        if hmac.compare_digest(signature, sign(body, APP_SECRET)):
            self.server.received.append(json.loads(body))
            self._answer(200, b"")
        else:
            self._answer(403, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read statuses, not logs."""


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BotWebhook)
        self.received: list[dict[str, Any]] = []


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = _WebhookServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/whatsapp", server.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_post_to_bot_signs_like_meta(webhook: tuple[str, list[dict[str, Any]]], user: FakeWhatsAppUser) -> None:
    url, received = webhook
    payload = user.text("halo / hai")

    assert post_to_bot(url, payload) == 200
    assert post_to_bot(url, payload, signature="bad") == 403
    assert post_to_bot(url, payload, signature="missing") == 403
    assert received == [payload]


async def test_deliver_statuses_posts_every_queued_body(
    webhook: tuple[str, list[dict[str, Any]]], api: FakeWhatsAppAPI, graph: httpx.AsyncClient, user: FakeWhatsAppUser
) -> None:
    url, received = webhook
    user.text("halo")
    await send(graph, envelope(user.user_id, text()))

    answers = await asyncio.to_thread(api.deliver_statuses, url, order="reverse", per_body=2)

    assert answers == [200, 200]
    assert [s["status"] for s in statuses_of(received)] == ["read", "delivered", "sent"]
    assert api.take_statuses() == []


def test_verify_webhook_plays_metas_subscription_check(webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = webhook
    assert verify_webhook(url) == (200, "1158201444")
    assert verify_webhook(url, verify_token="wrong")[0] == 403


def test_sent_whatsapp_titles_cover_buttons_and_rows() -> None:
    sent = SentWhatsApp("wamid.x", "ID.1", "list", "Pilih", 0.0, rows=[("Nelayan", None, "r1")])
    assert sent.titles == ["Nelayan"] and sent.is_for("ID.1") and not sent.is_for("ID.2")
