"""The transcript helper (tests/transcript.py): what it plays, what it accepts, and how it fails."""

import pytest

from tests.conftest import OPERATOR
from tests.transcript import dialog, fits, parse


async def test_a_matching_transcript_passes_and_returns_the_answer_to_its_last_line(chat, db):
    replies = await dialog(chat).play(f"""
        # the welcome, then the menu for a fisherman
        > /start PETUGAS_01
        < {OPERATOR}
        < bukan BPJS Ketenagakerjaan
        < [🌾 Petani] [🎣 Nelayan] [🛒 Pedagang] [🚐 Sopir/angkot] [🛵 Mitra ojol] [👤 Lainnya] [Lewati]
        > [Nelayan]
        < Melaut itu berisiko
        < [❓ Apa itu BPU?] [🧮 Hitung iuran] ...
        < ... [🔒 Data & berhenti]
        < ... [🧮 Hitung iuran] ... [✋ Saya tertarik] ...
        > berapa iurannya?
        < Mulai Rp16.800 per bulan
    """)

    assert [m.text[:24] for m in replies] == ["Mulai Rp16.800 per bulan"]
    assert db("select source_code, occupation from contacts")[0][:] == ("PETUGAS_01", "nelayan")


async def test_a_missing_fragment_fails_with_the_dialog_so_far_side_by_side(chat):
    with pytest.raises(AssertionError) as failed:
        await dialog(chat).play("""
            > /start
            < bukan BPJS Ketenagakerjaan
            > [Nelayan]
            < Bertani itu berisiko
            > [Hitung iuran]
        """)

    shown = str(failed.value)
    assert "at step 2, 'Bertani itu berisiko': not in the answer" in shown
    lines = shown.splitlines()
    assert lines[2].split() == ["expected", "│", "got"]
    # Each side of the row is what was expected and what the bot sent, the failing line marked.
    assert any(line.startswith("  > /start ") and line.endswith("│ > /start") for line in lines)
    assert any(line.startswith("✗ < Bertani itu berisiko ") and "│ < 🎣 Melaut itu berisiko" in line for line in lines)
    assert "> [Hitung iuran]" not in shown, "the dialog stops where it went otherwise"
    assert "< [🌾 Petani] [🎣 Nelayan]" in shown, "the buttons the bot offered are shown"


async def test_fragments_are_looked_for_in_order(chat):
    with pytest.raises(AssertionError, match="'Dinas Tenaga Kerja': not in the answer"):
        await dialog(chat).play("""
            > /start
            < bukan BPJS Ketenagakerjaan
            < Dinas Tenaga Kerja
        """)


async def test_buttons_that_differ_fail_with_the_buttons_offered(chat):
    with pytest.raises(AssertionError) as failed:
        await dialog(chat).play("""
            > /start
            < [🌾 Petani] [🎣 Nelayan]
        """)

    assert "message 1 offers ['🌾 Petani', '🎣 Nelayan', '🛒 Pedagang'" in str(failed.value)
    assert "✗ < [🌾 Petani] [🎣 Nelayan]" in str(failed.value)


async def test_a_tap_on_a_button_that_is_not_offered_fails_with_the_dialog(chat):
    with pytest.raises(AssertionError) as failed:
        await dialog(chat).play("""
            > /start
            > [Pilot]
            < Terbang
        """)

    assert "at step 2, '[Pilot]': no button 'Pilot'" in str(failed.value)
    assert "✗ > [Pilot]" in str(failed.value)


async def test_a_shared_contact_is_the_persons_own_number(chat, db):
    await dialog(chat).play("""
        > /start
        > [Nelayan]
        > [Saya tertarik]
        > [Setuju]
        > [Boleh]
        > Budi Santoso
        < Nomor HP
        > (contact +62 812-3456-7890)
        < 0812-3456-7890 dicatat
        < kabupaten/kota
    """)

    assert '"phone": "+6281234567890"' in db("select state_data from contacts")[0][0]


@pytest.mark.parametrize(
    ("pattern", "labels", "fit"),
    [
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["a", "b", "c"], False),
        (["a", "..."], ["a", "b", "c"], True),
        (["...", "c"], ["a", "b", "c"], True),
        (["...", "b", "..."], ["a", "b", "c"], True),
        (["...", "a", "...", "c", "..."], ["a", "b", "c"], True),
        (["...", "c", "...", "a", "..."], ["a", "b", "c"], False),
        (["..."], [], True),
        ([], [], True),
    ],
)
def test_buttons_patterns(pattern, labels, fit):
    assert fits(pattern, labels) is fit


@pytest.mark.parametrize(
    "transcript",
    ["< an answer before anything was sent", "> hello\nhello again", "> hello\n<"],
)
def test_a_line_that_is_neither_sent_nor_answered_is_refused(transcript):
    with pytest.raises(ValueError, match="expected '> what is sent' or '< what is answered'"):
        parse(transcript)
