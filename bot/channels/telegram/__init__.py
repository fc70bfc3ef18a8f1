"""Telegram through python-telegram-bot: PTB receives and dispatches updates, our dispatcher answers them.

No conversation logic lives here: an Update becomes an Inbound, the Replies become messages with inline
keyboards (or the share-contact keyboard when the conversation asks for a phone number).

The adapter by job: channel.py wires PTB to the dispatcher and reads updates, sending.py turns Replies into
Bot API calls, menus.py sets the command menus, transport.py carries every request over aiohttp.
"""

CHANNEL = "telegram"
