"""`bpu-bot chat`: the conversation in a terminal, piped or typed line by line.

Each screen is what the bot printed before its `> ` prompt; options are numbered and a number picks one.
The conversation lives in the database, so a new process (after the input ended, or after `kill -9`)
continues at the question the person was on. What is about the process (a second one, `kill -9`, Ctrl-C)
runs the real one; the conversations piped in run the same command line in this process.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.process import ROOT, TerminalSession, bot_env, catalog_text, chat_lines, rows, run_cli, run_cli_here, screens

CONSENT_VERSION = tomllib.loads((ROOT / "content" / "consent.toml").read_text(encoding="utf-8"))["version"]


def chat(tmp_path: Path, *lines: str, args: tuple[str, ...] = (), process: bool = False) -> list[str]:
    """Pipe `lines` into `bpu-bot chat` (a real process when `process`, else in this one); the screens it showed,
    one before the first line and one per line."""
    cli = run_cli if process else run_cli_here
    result = cli(["chat", *args], bot_env(tmp_path), tmp_path, input=chat_lines(*lines))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    shown = screens(result.stdout)
    assert len(shown) == len(lines) + 2, f"one screen per line typed, then the end of input:\n{result.stdout}"
    return shown[:-1]


def assert_conversation(shown: list[str], steps: list[tuple[str, list[str]]]) -> None:
    for number, ((typed, expected), screen) in enumerate(zip(steps, shown[1:], strict=True), start=1):
        for text in expected:
            assert text in screen, f"step {number}: after typing {typed!r} expected {text!r}, the bot showed:\n{screen}"


def test_a_worker_who_types_everything_is_understood(tmp_path: Path):
    steps = [
        ("sy petani sawit", ["🌾", "Mau tahu apa?"]),
        ("kalo sy sakit gmn", ["BPJS Kesehatan"]),
        ("saya tertarik", ["Sebelum mencatat data Anda"]),
        ("iyo setuju", ["bolehkah kami sesekali mengirim pengingat"]),
        ("boleh", ["Siapa nama Anda?"]),
        ("berapa iurannya?", ["Mulai Rp16.800 per bulan", "Lanjut: siapa nama Anda?"]),
        ("nama saya bu Siti Rohani", ["Nomor HP berapa"]),
        ("gak jadi", ["Baik, dibatalkan. Tidak ada data baru yang dicatat.", "Mau tahu apa?"]),
        ("stop kirim", ["Pesan dihentikan", "MULAI"]),
    ]

    shown = chat(tmp_path, *(typed for typed, _ in steps))

    assert_conversation(shown, steps)
    assert rows("SELECT count(*) AS n FROM leads")[0]["n"] == 0
    consents = rows("SELECT purpose, granted, typed_text FROM consents ORDER BY id")
    assert [tuple(c) for c in consents][:2] == [("lead_contact", 1, "iyo setuju"), ("reminders", 1, "boleh")]
    [contact] = rows("SELECT occupation, state, messages_stopped_at FROM contacts")
    assert (contact["occupation"], contact["state"]) == ("petani", "main") and contact["messages_stopped_at"]


def test_a_worker_leaves_their_contact_using_numbers_and_words(tmp_path: Path):
    steps = [
        ("2", ["🎣 Melaut itu berisiko", "Mau tahu apa?", "  6. ✋ Saya tertarik"]),
        ("brp iurannya", ["Mulai Rp16.800 per bulan", "  1. 🧮 Hitung iuran"]),
        ("1", ["Berapa kira-kira penghasilan Anda per bulan?", "  3. Rp2.000.000"]),
        ("3", ["JKK 1%: Rp20.000", "JKM: Rp6.800", "= Rp26.800 per bulan", "  1. ✋ Saya tertarik"]),
        ("1", ["Sebelum mencatat data Anda", "bukan oleh BPJS Ketenagakerjaan",
               "  1. ✅ Setuju", "  2. ❌ Tidak setuju"]),
        ("1", ["bolehkah kami sesekali mengirim pengingat", "  1. 👍 Boleh", "  2. Tidak usah"]),
        ("2", ["Siapa nama Anda?", "  1. ✖️ Batal"]),
        ("Budi Santoso", ["Nomor HP berapa yang bisa ditelepon petugas?"]),
        ("0812 3456 7890", ["Nomor 0812-3456-7890 dicatat ✓", "Di kabupaten/kota mana Anda tinggal?", "  8. Mukomuko"]),
        ("muko muko", ["Kapan waktu yang enak untuk ditelepon petugas?", "  4. 🕐 Kapan saja"]),
        ("4", ["👤 Nama: Budi Santoso", "📱 HP: 0812-3456-7890", "👷 Pekerjaan: 🎣 Nelayan",
               "📍 Kabupaten/kota: Mukomuko", "🕐 Waktu ditelepon: 🕐 Kapan saja", "  1. ✅ Benar, simpan"]),
        ("1", ["Terima kasih, Budi Santoso!", "Data Anda sudah kami catat", "Mau tahu apa?"]),
    ]  # fmt: skip

    shown = chat(tmp_path, *(typed for typed, _ in steps))

    assert "bukan BPJS Ketenagakerjaan" in shown[0]
    assert "  2. 🎣 Nelayan" in shown[0]
    assert_conversation(shown, steps)
    [lead] = rows("SELECT * FROM leads")
    moments = {"created_at": None, "updated_at": None, "last_contact_at": None}
    assert dict(lead) | {"id": None, "contact_id": None, **moments} == {
        "id": None,
        "contact_id": None,
        "name": "Budi Santoso",
        "phone": "+6281234567890",
        "occupation": "nelayan",
        "region": "Mukomuko",
        "call_time": "kapan",
        "status": "baru",
        "source_code": None,
        "channel": "terminal",
        "locale": "id",
        "officer_id": None,
        "created_at": None,
        "updated_at": None,
        "last_contact_at": None,
        "expiry_warned_at": None,
    }
    consents = rows("SELECT purpose, text_version, granted, decided_at FROM consents ORDER BY id")
    assert [(c["purpose"], c["text_version"], c["granted"]) for c in consents] == [
        ("lead_contact", CONSENT_VERSION, 1),
        ("reminders", CONSENT_VERSION, 0),
    ]
    assert all(c["decided_at"] for c in consents)
    [contact] = rows("SELECT external_id, state, occupation FROM contacts")
    assert (contact["external_id"], contact["state"], contact["occupation"]) == ("local", "main", "nelayan")


def test_lang_en_speaks_english(tmp_path: Path):
    shown = chat(tmp_path, "2", args=("--lang", "en"))

    assert catalog_text("en", "onboarding.ask_occupation") in shown[0]
    assert "  2. " + catalog_text("en", "occupation.nelayan.label") in shown[0]
    assert catalog_text("en", "menu.title") in shown[1]
    assert "  6. " + catalog_text("en", "menu.interest") in shown[1]
    assert "Mau tahu apa?" not in "".join(shown)
    [contact] = rows("SELECT locale FROM contacts")
    assert contact["locale"] == "en"


def test_a_second_process_continues_where_the_input_ended(tmp_path: Path):
    first = chat(tmp_path, "2", "6", "1", "1", process=True)
    assert "Siapa nama Anda?" in first[-1]

    second = chat(tmp_path, "Ani", "081234567890", "8", "1", "1", process=True)

    assert second[0].strip().startswith("Siapa nama Anda?"), f"resumed somewhere else:\n{second[0]}"
    assert "bukan BPJS Ketenagakerjaan" not in second[0], "the welcome is not shown again"
    assert_conversation(
        second,
        [
            ("Ani", ["Nomor HP berapa"]),
            ("081234567890", ["Nomor 0812-3456-7890 dicatat ✓"]),
            ("8", ["Kapan waktu yang enak"]),
            ("1", ["👤 Nama: Ani", "📍 Kabupaten/kota: Mukomuko", "🌅 Pagi"]),
            ("1", ["Terima kasih, Ani!"]),
        ],
    )
    [lead] = rows("SELECT name, occupation, region, call_time FROM leads")
    assert tuple(lead) == ("Ani", "nelayan", "Mukomuko", "pagi")


def test_kill_9_after_an_answer_loses_nothing(tmp_path: Path):
    env = bot_env(tmp_path)
    with TerminalSession([], env, tmp_path) as session:
        assert "Apa pekerjaan Anda?" in session.read_screen()
        assert "Mau tahu apa?" in session.type("1")
        assert "Sebelum mencatat data Anda" in session.type("6")
        assert "pengingat" in session.type("Setuju")  # a label typed instead of its number
        assert "Siapa nama Anda?" in session.type("1")
        assert "Nomor HP berapa" in session.type("Siti Aminah")

        session.kill_hard()

    [contact] = rows("SELECT state FROM contacts")
    assert contact["state"] == "interest/phone"
    with TerminalSession([], env, tmp_path, log_name="chat-stderr-2.log") as session:
        resumed = session.read_screen()
        assert resumed.strip().startswith("Nomor HP berapa"), f"resumed somewhere else:\n{resumed}"
        assert "Nomor 0812-3456-7890 dicatat ✓" in session.type("0812-3456-7890")
        assert "Kapan waktu" in session.type("Rejang Lebong")
        summary = session.type("3")
        assert "👤 Nama: Siti Aminah" in summary and "👷 Pekerjaan: 🌾 Petani" in summary
        assert "Terima kasih, Siti Aminah!" in session.type("1")
        assert session.close() == 0

    leads = rows("SELECT name, phone, occupation, region, call_time FROM leads")
    assert [tuple(lead) for lead in leads] == [("Siti Aminah", "+6281234567890", "petani", "Rejang Lebong", "sore")]
    consents = rows("SELECT purpose, granted FROM consents ORDER BY id")
    assert [tuple(c) for c in consents] == [("lead_contact", 1), ("reminders", 1)]


def test_each_user_has_their_own_conversation(tmp_path: Path):
    ani = chat(tmp_path, "1", "6", args=("--user", "ani"))
    assert "Sebelum mencatat data Anda" in ani[-1]

    budi = chat(tmp_path, "3", args=("--user", "budi"))
    ani_again = chat(tmp_path, args=("--user", "ani"))

    assert "bukan BPJS Ketenagakerjaan" in budi[0], "budi starts at the welcome, not at ani's question"
    assert "🛒 Pedagang" in budi[1]
    assert ani_again[0].strip().startswith("✋ Sebelum mencatat data Anda"), ani_again[0]
    contacts = rows("SELECT external_id, occupation, state FROM contacts ORDER BY id")
    assert [tuple(c) for c in contacts] == [("ani", "petani", "interest/consent"), ("budi", "pedagang", "main")]


def test_ctrl_c_at_the_prompt_ends_the_chat(tmp_path: Path):
    with TerminalSession([], bot_env(tmp_path), tmp_path) as session:
        assert "Apa pekerjaan Anda?" in session.read_screen()

        exit_code = session.interrupt(timeout=1.5)

    assert exit_code == 130, "Ctrl-C at the prompt did not end the chat: it waits for Enter first"


def test_every_right_works_in_the_terminal_too(tmp_path: Path):
    steps = [
        ("nelayan", ["🎣 Melaut itu berisiko", "Mau tahu apa?"]),
        ("saya tertarik", ["Sebelum mencatat data Anda", "6 bulan"]),
        ("setuju", ["bolehkah kami sesekali mengirim pengingat"]),
        ("boleh", ["Siapa nama Anda?"]),
        ("Sutarmi", ["Nomor HP berapa"]),
        ("0812 9999 0000", ["Di kabupaten/kota mana Anda tinggal?"]),
        ("kaur", ["Kapan waktu yang enak untuk ditelepon petugas?"]),
        ("pagi", ["👤 Nama: Sutarmi", "  1. ✅ Benar, simpan"]),
        ("1", ["Terima kasih, Sutarmi!"]),
        ("data saya", ["Sutarmi", "0812-9999-0000", "Kaur", "  1. 📄 Kirim sebagai file"]),
        ("1", ["[data-saya.json]"]),
        ("ubah data", ["👤 Nama: Sutarmi", "✏️ Wilayah"]),
        ("wilayah", ["Di kabupaten/kota mana Anda tinggal?"]),
        ("seluma", ["📍 Kabupaten/kota: Seluma"]),
        ("benar, simpan", ["Data Anda sudah diperbarui"]),
        ("STOP", ["Pesan dihentikan", "MULAI"]),
        ("hapus", ["tidak bisa dibatalkan"]),
        ("ya, hapus semua", ["sudah dihapus"]),
    ]

    shown = chat(tmp_path, *(typed for typed, _ in steps))

    assert_conversation(shown, steps)
    assert rows("SELECT count(*) AS n FROM contacts")[0]["n"] == 0
    assert rows("SELECT count(*) AS n FROM leads")[0]["n"] == 0
    assert [tuple(row) for row in rows("SELECT reason, outcome, region, count FROM erased_counts")] == [
        ("request", "baru", "Seluma", 1)
    ]
