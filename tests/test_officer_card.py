"""The officer's printable card (/kode): a PNG with the QR code of their personal link, their name and regions,
and one line telling a worker what to do, on Telegram (a document, full resolution) and on WhatsApp (an image)."""

from __future__ import annotations

import io

import segno
from PIL import Image

from bot.card import HEIGHT, HINT, MARGIN, NAME, QR, QR_BORDER, REGIONS, WIDTH, Box, card_png, qr_placement
from bot.services.officers import add_officer, ensure_contact
from tests.conftest import whatsapp_text
from tests.fakes.telegram import UploadedFile
from tests.test_officers import RINA_ID, make_officer
from tests.transcript import dialog

DARK = 128  # a grey level below this is ink
HINT_ID = "Pindai kode ini dengan kamera HP untuk bertanya soal BPJS Ketenagakerjaan BPU"


def open_card(content: bytes) -> Image.Image:
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    card = Image.open(io.BytesIO(content))
    assert card.size == (WIDTH, HEIGHT), "A6 at 300 dpi: prints sharp on A6 and A5"
    assert round(card.info["dpi"][0]) == 300
    return card.convert("L")


def assert_qr_is(card: Image.Image, link: str) -> None:
    """The code on the card is segno's matrix of `link`, module for module, with its white quiet zone, and big
    enough to scan from a step away once printed (at least 6 cm wide at 300 dpi)."""
    matrix = segno.make(link, error="m", micro=False).matrix
    left, top, scale = qr_placement(link)
    assert len(matrix) * scale >= 700
    pixels = card.load()
    assert pixels is not None
    for row, modules in enumerate(matrix):
        for column, module in enumerate(modules):
            x, y = left + column * scale + scale // 2, top + row * scale + scale // 2
            assert (pixels[x, y] < DARK) == bool(module), f"module ({row}, {column}) of {link}"
    quiet = QR_BORDER * scale
    for x in range(left - quiet, left + len(matrix) * scale + quiet):
        for y in (top - quiet, top - 1, top + len(matrix) * scale, top + len(matrix) * scale + quiet - 1):
            assert pixels[x, y] >= DARK, "the quiet zone around the code is white"


def ink_in(card: Image.Image, box: Box, left: int = 0, right: int = WIDTH) -> int:
    """Dark pixels inside a band of the card."""
    band = card.crop((left, box.top, right, box.top + box.height))
    return sum(band.histogram()[:DARK])


def assert_text_stays_inside(card: Image.Image) -> None:
    """Every text is in its own band and within the margins: a long one wrapped or shrunk, never cut off by
    the paper's edge or run over the code."""
    for box in (HINT, NAME, REGIONS):
        assert ink_in(card, box, MARGIN, WIDTH - MARGIN) > 500, f"text in the band at {box.top}"
        assert ink_in(card, box, 30, MARGIN) == ink_in(card, box, WIDTH - MARGIN, WIDTH - 30) == 0
    gap_above = Box(HINT.top + HINT.height, QR.top - HINT.top - HINT.height, 0)
    gap_below = Box(QR.top + QR.height, NAME.top - QR.top - QR.height, 0)
    assert ink_in(card, gap_above, 30, WIDTH - 30) == ink_in(card, gap_below, 30, WIDTH - 30) == 0


async def test_an_officer_gets_a_printable_card_with_the_code_their_name_and_regions(app, new_chat, bot_api):
    _, code = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Seluma")
    rina = new_chat("Rina", user_id=RINA_ID)

    await dialog(rina).play(f"""
        > /kode
        < Tautan pribadi Anda
        < https://t.me/bpu_test_bot?start={code}
        < Cetak kartu ini (ukuran A6 atau A5)
    """)

    [call] = bot_api.calls_of("sendDocument")  # a document: Telegram would compress a photo
    document = call.params["document"]
    assert isinstance(document, UploadedFile) and document.filename == f"qr-{code}.png"
    card = open_card(document.content)
    assert_qr_is(card, f"https://t.me/bpu_test_bot?start={code}")
    assert_text_stays_inside(card)


def test_the_card_reads_what_it_was_given_and_its_code_is_the_links():
    link = "https://t.me/bpu_test_bot?start=ptg-abc234"
    plain = open_card(card_png(link, "Rina", "Petugas lapangan · Mukomuko", HINT_ID))
    other = open_card(card_png(link, "Budi Santoso", "Petugas lapangan · Mukomuko", HINT_ID))

    assert_qr_is(plain, link)
    assert ink_in(plain, NAME) < ink_in(other, NAME), "the name is drawn, not a fixed picture"
    assert ink_in(plain, HINT) == ink_in(other, HINT) and ink_in(plain, REGIONS) == ink_in(other, REGIONS)


def test_a_long_name_and_many_regions_wrap_or_shrink_inside_the_card():
    regions = "Petugas lapangan · " + ", ".join(
        ["Bengkulu Selatan", "Bengkulu Tengah", "Bengkulu Utara", "Kaur", "Kepahiang", "Lebong", "Mukomuko"] * 3
    )
    name = "Raden Ajeng Siti Nurhaliza Kusumawardhani Prawirodirdjo binti Haji Abdullah Syarifuddin Hasibuan"
    link = (
        "https://wa.me/6281100000000?text=Halo%2C%20saya%20mau%20tahu%20tentang%20BPU.%20Kode%20petugas%3A%20ptg-abc234"
    )

    card = open_card(card_png(link, name, regions, HINT_ID))
    unbroken = open_card(card_png(link, "X" * 300, "Y" * 300, "Z" * 400))  # no space to wrap at

    for each in (card, unbroken):
        assert_qr_is(each, link)
        assert_text_stays_inside(each)


async def test_on_whatsapp_kode_sends_the_card_as_an_image_with_the_link_as_caption(whatsapp, db):
    rina = whatsapp.user(name="Rina", phone="6281298765432")
    async with whatsapp.app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "whatsapp", rina.user.user_id, "id")
        officer, _ = await add_officer(session, contact, "Rina Marlina", ["Mukomuko"], whatsapp.app.dispatcher.clock())
        code = officer.code

    card_message, menu = await rina.say("/kode")
    assert "📋 Tugas saya" in menu.titles, "the menu follows the card"

    assert card_message.kind == "image" and card_message.media is not None
    assert card_message.media.mime_type == "image/png"
    assert "Tautan pribadi Anda" in whatsapp_text([card_message]) and code in card_message.text
    link = next(word for word in card_message.text.split() if word.startswith("https://wa.me/"))
    card = open_card(card_message.media.content)
    assert_qr_is(card, link)
    assert_text_stays_inside(card)
    assert [call.body["type"] for call in whatsapp.graph.calls() if call.path.endswith("/media")] == ["image/png"]
