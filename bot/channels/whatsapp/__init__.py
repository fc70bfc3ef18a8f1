"""WhatsApp through Meta's Cloud API: webhook payloads become Inbounds, Replies become WhatsApp messages.

No conversation logic lives here. A Reply with choices becomes reply buttons (at most 3, titles of at most
20 characters) or a list message (at most 10 rows; longer menus continue in a second list); a message nobody
asked for just now goes out as free text inside the 24 hours after the person's last message and as an
approved template outside them, or not at all. A Reply's file is uploaded to the media endpoint when it is
sent, and goes as an image (a PNG or JPEG) or a document, its text as the caption.

The client is our own, over httpx, so the Graph API's base URL stays configurable (tests point it at a fake)
and every error code reaches the code that decides what it means (platforms.md).

The adapter by job: inbound.py reads webhook payloads, rendering.py turns Replies (and templates) into
messages, sending.py talks to the Graph API, webhook.py stores webhook requests and processes them in order.
"""

CHANNEL = "whatsapp"
