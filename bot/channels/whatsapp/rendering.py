"""Replies as Cloud API messages: text, reply buttons, list messages, files, and approved templates."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import PurePath
from typing import Any

from bot.config import WhatsAppTemplate
from bot.conversation.events import Reply, encode_choice
from bot.i18n import Translator

MAX_BUTTONS = 3
BUTTON_TITLE = 20
BUTTON_BODY = 1024
MAX_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
TEXT_BODY = 4096
CAPTION = 1024
# The Cloud API's media limits: an image (JPEG or PNG) shows in the chat, up to 5 MB; other files are
# documents, up to 100 MB.
IMAGE_LIMIT = 5 * 1024 * 1024
DOCUMENT_LIMIT = 100 * 1024 * 1024
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
# Documents by extension, as the media endpoint takes them. It refuses text/csv (and JSON), so such a file is
# uploaded as text/plain: the recipient's phone opens it by its file name.
DOCUMENT_TYPES = {
    ".csv": "text/plain",
    ".json": "text/plain",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A rendered file message carries the file itself under this key, until the sender uploads it and puts the
# media id in its place (the outbox keeps messages as JSON: the bytes are base64).
UPLOAD = "upload"
MEGABYTE = 1024 * 1024


def _shorten(label: str, limit: int) -> str:
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def render(reply: Reply, t: Translator) -> list[dict[str, Any]]:
    """The messages that show `reply` on WhatsApp, without their recipient."""
    if reply.document is not None:
        return _file(reply, t)
    text = reply.text.strip() or "…"
    choices = reply.choices
    if not choices:
        return [{"type": "text", "text": {"body": text[:TEXT_BODY], "preview_url": False}}]
    labels = [choice.label for choice in choices]
    if (
        len(choices) <= MAX_BUTTONS
        and all(len(label) <= BUTTON_TITLE for label in labels)
        and len(set(labels)) == len(labels)
        and len(text) <= BUTTON_BODY
    ):
        buttons = [
            {"type": "reply", "reply": {"id": encode_choice(reply.serial, c.action), "title": c.label}} for c in choices
        ]
        return [_interactive("button", text, {"buttons": buttons})]
    messages = []
    for start in range(0, len(choices), MAX_ROWS):
        rows = []
        for choice in choices[start : start + MAX_ROWS]:
            row = {"id": encode_choice(reply.serial, choice.action), "title": _shorten(choice.label, ROW_TITLE)}
            if row["title"] != choice.label:  # the whole label stays readable under its short title
                row["description"] = _shorten(choice.label, ROW_DESCRIPTION)
            rows.append(row)
        body = text[:TEXT_BODY] if start == 0 else t("whatsapp.more_choices")
        button = t("whatsapp.list_button" if start == 0 else "whatsapp.more_button")
        messages.append(_interactive("list", body, {"button": button, "sections": [{"rows": rows}]}))
    return messages


def _file(reply: Reply, t: Translator) -> list[dict[str, Any]]:
    """A reply's file as an image or a document, the text as its caption when it fits and has no buttons
    (else the text follows, as usual); a file over the limit is not sent, and the text says so."""
    assert reply.document is not None
    name, content = reply.document
    suffix = PurePath(name).suffix.lower()
    kind = "image" if suffix in IMAGE_TYPES else "document"
    mime = IMAGE_TYPES.get(suffix) or DOCUMENT_TYPES[suffix]  # the bot sends only files of these kinds
    rest = replace(reply, document=None)
    limit = IMAGE_LIMIT if kind == "image" else DOCUMENT_LIMIT
    if len(content) > limit:
        size = max(1, round(len(content) / MEGABYTE))
        too_large = t("whatsapp.file_too_large", name=name, size=size, limit=limit // MEGABYTE)
        return render(replace(rest, text=f"{reply.text.strip()}\n\n{too_large}".strip()), t)
    captioned = not reply.choices and 0 < len(reply.text.strip()) <= CAPTION
    media: dict[str, Any] = {"caption": reply.text.strip()} if captioned else {}
    if kind == "document":
        media["filename"] = name
    upload = {"name": name, "type": mime, "data": base64.b64encode(content).decode()}
    message = {"type": kind, kind: media, UPLOAD: upload}
    alone = captioned or not (reply.text.strip() or reply.choices)
    return [message] if alone else [message, *render(rest, t)]


def _interactive(kind: str, body: str, action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {"type": kind, "body": {"text": body}, "action": action}}


def template_message(template: WhatsAppTemplate, reply: Reply, values: dict[str, str]) -> dict[str, Any]:
    """An approved template for `reply`: its body parameters filled from `values`, its quick replies carrying
    the reply's choices. A parameter may hold no line breaks or runs of spaces (Meta refuses them: 132018)."""
    components: list[dict[str, Any]] = []
    if template.parameters:
        parameters = [
            {"type": "text", "text": " ".join(values.get(name, "").split()) or "-"} for name in template.parameters
        ]
        components.append({"type": "body", "parameters": parameters})
    if template.buttons:
        for index, choice in enumerate(reply.choices[:MAX_BUTTONS]):
            payload = encode_choice(reply.serial, choice.action)
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": payload}],
                }
            )
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language_for(reply.locale)}}
    if components:
        body["components"] = components
    return {"type": "template", "template": body}
