"""An officer's printable card: the QR code of their personal link, their name and regions, and what to do."""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont

# A6 portrait at 300 dpi (105 x 148 mm): sharp on A6, still crisp enlarged to A5, pinned on a stall.
WIDTH, HEIGHT = 1240, 1748
DPI = 300
MARGIN = 80
QR_BORDER = 4  # modules of white around the code: scanners need the quiet zone
INK, PAPER, CUT_LINE = 0, 255, 200  # grey levels: black text and code on white, a light line to cut along
# Font sizes in pixels, largest first: a long name or many regions shrink before they wrap onto another line.
HINT_SIZES = (60, 54, 48, 42, 36)
NAME_SIZES = (84, 72, 62, 54, 46)
REGION_SIZES = (52, 46, 40, 34)
LINE_SPACING = 1.2


@dataclass(frozen=True)
class Box:
    top: int
    height: int
    lines: int  # at most this many lines of text; what does not fit at the smallest size is cut with "…"


# Top to bottom: what to do (read first, from a step away), the code, whose card it is.
HINT = Box(70, 250, 3)
QR = Box(330, 960, 0)
NAME = Box(1310, 210, 2)
REGIONS = Box(1530, 150, 2)


def qr_placement(link: str) -> tuple[int, int, int]:
    """Where the code's first module (inside its quiet zone) sits on the card, and its size: (left, top, pixels
    per module). The code is as large as the square between the text boxes allows, centred."""
    modules = int(segno.make(link, error="m", micro=False).symbol_size(scale=1, border=QR_BORDER)[0])
    scale = QR.height // modules
    side = modules * scale
    left = (WIDTH - side) // 2 + QR_BORDER * scale
    top = QR.top + (QR.height - side) // 2 + QR_BORDER * scale
    return left, top, scale


def card_png(link: str, name: str, regions: str, hint: str) -> bytes:
    """The card as a grey-scale PNG, 300 dpi; the caller gives the texts, already in the officer's language."""
    card = Image.new("L", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(card)
    draw.rectangle((20, 20, WIDTH - 21, HEIGHT - 21), outline=CUT_LINE, width=3)
    left, top, scale = qr_placement(link)
    code = io.BytesIO()
    segno.make(link, error="m", micro=False).save(code, kind="png", scale=scale, border=0)
    card.paste(Image.open(code).convert("L"), (left, top))
    _write(draw, hint, HINT, HINT_SIZES)
    _write(draw, name, NAME, NAME_SIZES)
    _write(draw, regions, REGIONS, REGION_SIZES)
    out = io.BytesIO()
    card.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def _write(draw: ImageDraw.ImageDraw, text: str, box: Box, sizes: tuple[int, ...]) -> None:
    """`text` centred in `box`: at the largest size whose lines fit, else cut at the smallest."""
    width = WIDTH - 2 * MARGIN
    for size in sizes:
        font = ImageFont.load_default(size=size)
        lines = _wrap(text, font, width)
        step = round(size * LINE_SPACING)
        if len(lines) <= box.lines and len(lines) * step <= box.height:
            break
    else:
        lines = _cut(lines, box.lines, font, width)
    top = box.top + (box.height - len(lines) * step) // 2
    for number, line in enumerate(lines):
        draw.text((WIDTH // 2, top + number * step), line, fill=INK, font=font, anchor="ma")


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap by rendered width; a word wider than the line is broken between letters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while font.getlength(line) > width:
            cut = _fitting_prefix(line, font, width)
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines


def _fitting_prefix(word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> int:
    """How many of the word's first letters fit on a line (at least one)."""

    def length(count: int) -> float:
        return float(font.getlength(word[:count]))

    return max(1, bisect.bisect_right(range(1, len(word) + 1), float(width), key=length))


def _cut(lines: list[str], keep: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """The first `keep` lines, the last ending in "…" when text was left out."""
    if len(lines) <= keep:
        return lines
    last = lines[keep - 1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    return [*lines[: keep - 1], last.rstrip(" ,;:·") + "…"]
