"""Conversation tests that read as the conversation: a transcript played through the real dispatcher.

    replies = await dialog(chat).play('''
        > /start PETUGAS_01
        < bukan BPJS Ketenagakerjaan
        < [🌾 Petani] [🎣 Nelayan] ...
        > [Nelayan]
        < Melaut itu berisiko
        < ... [✋ Saya tertarik] ...
    ''')

A `>` line is what the person sends, and each is one update through PTB and the fake Bot API (tests/conftest.py
`Chat`):

    > some words               typed text
    > /start PAYLOAD           a command, the payload optional
    > [Saya tertarik]          a tap on the button whose label contains the words, on the last message with buttons
    > (contact +6281234567890) the person shares their own contact

The `<` lines after it are what the bot must answer to it, checked in order through the answer's messages:

    < some words               a fragment that must appear in the answer, after the previous fragment's place
    < [✅ Setuju] [❌ Tidak setuju]   exactly these inline buttons, in this order, on the message of the previous
                                  fragment (the first message when there is none); the next fragment is looked for
                                  in the messages after it
    < [🌾 Petani] ...           `...` stands for any number of buttons: here "these first", and
                                  `... [🏠 Menu]` "this last", `... [a] ... [b] ...` "a, and later b"

A `>` line without `<` lines is played and not checked; blank lines and `#` lines are left out. Anything else
(a message's count, its reply keyboard, what must not be said, a text's start) is asserted as before on what
`play` returns: the messages answering the last `>` line. On a mismatch the test fails with the whole dialog of
this `play`, expected beside what the bot did send.
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


@dataclass
class Turn:
    sends: str
    expects: list[str] = field(default_factory=list)
    replies: list[SentMessage] = field(default_factory=list)
    failed_at: int | None = None  # index into expects (len(expects): the send itself failed)
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
            lines += wrap("< " + " ".join(f"[{label}]" for label in reply.labels), RIGHT)
    if not turn.replies:
        lines.append(f"  ({turn.error})" if turn.failed_at == len(turn.expects) else "  (no answer)")
    return lines


def expected(turn: Turn) -> list[str]:
    lines = [f"  > {turn.sends}" if turn.failed_at != len(turn.expects) else f"✗ > {turn.sends}"]
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
                turn.failed_at, turn.error = len(turn.expects), str(refused)
            else:
                check(turn)
            if turn.failed_at is not None:
                what = turn.expects[turn.failed_at] if turn.failed_at < len(turn.expects) else turn.sends
                raise AssertionError(
                    f"the dialog went otherwise at step {number + 1}, {what!r}: {turn.error}\n\n"
                    + side_by_side(turns[: number + 1])
                )
        return turns[-1].replies if turns else []


def dialog(chat: Chat) -> Dialog:
    """`await dialog(chat).play('''...''')`: a one-argument call, so the formatter keeps the transcript hugged."""
    return Dialog(chat)
