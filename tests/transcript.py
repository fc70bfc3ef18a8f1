"""Conversation tests that read as the conversation: a transcript played through the real dispatcher
(PTB and the fake Bot API, through tests/conftest.py's `Chat`), as Zulip's `verify_dialog` does for its bots.

    replies = await dialog(chat).play('''
        > /start PETUGAS_01
        < bukan BPJS Ketenagakerjaan
        < [🌾 Petani] [🎣 Nelayan] ...
        > [Nelayan]
        < Melaut itu berisiko
        < ... [✋ Saya tertarik] ...
    ''')

`>` is what the person sends, one update each:
    > some words                typed text
    > /start PAYLOAD            a command, the payload optional
    > [Saya tertarik]           a tap on the button whose label contains these words, on the last message with buttons
    > (contact +6281234567890)  their own contact, shared

`<` is what the bot must answer to the `>` above it, checked in order through the answer's messages:
    < some words                a fragment of the answer, found after the previous fragment
    < [✅ Setuju] [❌ Tidak setuju]  exactly these inline buttons, in order, on the message of the previous fragment
                                (the first message if none); the next fragment is looked for in a later message
    < [🌾 Petani] ...            `...` is any number of buttons: "these first"; `... [🏠 Menu]` "this last";
                                `... [a] ... [b] ...` "a, and b after it"

A `>` without `<` lines is played, not checked; blank lines and `#` comments are skipped. `play` returns the
messages answering the last `>`, for what a transcript does not say (how many messages, a reply keyboard, what
must not be said, how a text starts). A mismatch fails the test with the dialog so far, expected beside got.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from dataclasses import dataclass, field
from unicodedata import combining, east_asian_width

from tests.conftest import Chat
from tests.fakes.telegram import SentMessage

ANY = "..."  # in a buttons line: any number of buttons
BUTTONS = re.compile(r"(\s*(\[[^\]]+\]|\.\.\.)\s*)+")
LEFT, RIGHT = 46, 74  # the two columns of a failure, in characters
NBSP = "\u00a0"


@dataclass
class Turn:
    sends: str
    expects: list[str] = field(default_factory=list)
    replies: list[SentMessage] = field(default_factory=list)
    failed_at: int | None = None  # the expected line that failed, -1 for the sending itself
    error: str = ""


def parse(transcript: str) -> list[Turn]:
    turns: list[Turn] = []
    for number, line in enumerate(transcript.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mark, rest = line[:1], line[1:].strip()
        if mark not in "<>" or not rest or (mark == "<" and not turns):
            raise ValueError(f"transcript line {number}: expected '> what is sent' or '< what is answered': {line!r}")
        if mark == ">":
            turns.append(Turn(rest))
        else:
            turns[-1].expects.append(rest)
    return turns


def buttons_of(line: str) -> list[str] | None:
    """A buttons line's labels (with ANY), or None for a text fragment."""
    if not BUTTONS.fullmatch(line):
        return None
    return [label or ANY for label, _ in re.findall(r"\[([^\]]+)\]|(\.\.\.)", line)]


def fits(pattern: list[str], labels: list[str]) -> bool:
    if not pattern:
        return not labels
    head, *rest = pattern
    if head == ANY:
        return any(fits(rest, labels[start:]) for start in range(len(labels) + 1))
    return bool(labels) and labels[0] == head and fits(rest, labels[1:])


async def send(chat: Chat, sends: str) -> list[SentMessage]:
    if sends.startswith("/"):
        name, _, payload = sends[1:].partition(" ")
        return await chat.command(name, payload.strip() or None)
    if tap := re.fullmatch(r"\[(.+)\]", sends):
        return await chat.tap(tap[1])
    if contact := re.fullmatch(r"\(contact (.+)\)", sends):
        return await chat.share_contact(contact[1])
    return await chat.say(sends)


def check(turn: Turn) -> None:
    """Set turn.failed_at and turn.error at the first expected line the answer does not meet."""
    message, offset, current = 0, 0, 0  # where the next fragment is looked for; the last fragment's message
    for index, expected in enumerate(turn.expects):
        if (pattern := buttons_of(expected)) is not None:
            labels = turn.replies[current].labels if current < len(turn.replies) else []
            if not fits(pattern, labels):
                turn.failed_at, turn.error = index, f"message {current + 1} offers {labels}"
                return
            message, offset = current + 1, 0
            continue
        while message < len(turn.replies) and (at := turn.replies[message].text.find(expected, offset)) < 0:
            message, offset = message + 1, 0
        if message == len(turn.replies):
            turn.failed_at, turn.error = index, "not in the answer (after the lines before it)"
            return
        current, offset = message, at + len(expected)


def wrap(line: str, width: int) -> list[str]:
    return textwrap.wrap(line, width, subsequent_indent="  ") or [""]


def buttons_shown(labels: list[str]) -> list[str]:
    # No-break spaces inside the labels, so a label is never wrapped in two.
    line = "< " + " ".join(f"[{label.replace(' ', NBSP)}]" for label in labels)
    return [part.replace(NBSP, " ") for part in wrap(line, RIGHT)]


def padded(line: str, width: int) -> str:
    """`line` filled to `width` columns as a terminal shows it: emoji take two, variation selectors none."""
    shown = sum(0 if combining(c) or c == "\ufe0f" else 2 if east_asian_width(c) in "WF" else 1 for c in line)
    return line + " " * (width - shown)


def got(turn: Turn) -> list[str]:
    lines = [f"> {turn.sends}"]
    for reply in turn.replies:
        for number, text in enumerate(reply.text.splitlines() or [""]):
            lines += wrap(("< " if number == 0 else "  ") + text, RIGHT)
        if reply.labels:
            lines += buttons_shown(reply.labels)
    if not turn.replies:
        lines.append(f"  ({turn.error})" if turn.failed_at == -1 else "  (no answer)")
    return lines


def expected(turn: Turn) -> list[str]:
    lines = [("✗ > " if turn.failed_at == -1 else "  > ") + turn.sends]
    for index, line in enumerate(turn.expects):
        lines += wrap(("✗ < " if index == turn.failed_at else "  < ") + line, LEFT)
    return lines


def side_by_side(turns: list[Turn]) -> str:
    rows = [f"{'expected':<{LEFT}} │ got", f"{'─' * LEFT}─┼─{'─' * RIGHT}"]
    for turn in turns:
        for left, right in itertools.zip_longest(expected(turn), got(turn), fillvalue=""):
            rows.append(f"{padded(left, LEFT)} │ {right}")
    return "\n".join(rows)


class Dialog:
    def __init__(self, chat: Chat):
        self.chat = chat

    async def play(self, transcript: str) -> list[SentMessage]:
        """Play the transcript (see the module's docstring); returns the answer to its last `>` line."""
        __tracebackhide__ = True  # the failure is the dialog, not this helper's frames
        turns = parse(transcript)
        for number, turn in enumerate(turns):
            try:
                turn.replies = await send(self.chat, turn.sends)
            except AssertionError as refused:  # e.g. no such button to tap
                turn.failed_at, turn.error = -1, str(refused)
            else:
                check(turn)
            if turn.failed_at is not None:
                what = turn.sends if turn.failed_at == -1 else turn.expects[turn.failed_at]
                raise AssertionError(
                    f"the dialog went otherwise at step {number + 1}, {what!r}: {turn.error}\n\n"
                    + side_by_side(turns[: number + 1])
                )
        return turns[-1].replies if turns else []


def dialog(chat: Chat) -> Dialog:
    """`await dialog(chat).play('''...''')`: a one-argument call, so the formatter keeps the transcript hugged."""
    return Dialog(chat)
