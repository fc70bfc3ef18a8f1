"""Officers and roles as the office hands them out: /id for the id staff need, roles granted to a phone number
(taken on WhatsApp by writing from it, on Telegram by sharing one's own contact) or through an invite link on
either platform, officers edited in place, and the question asked before someone's work is handed over.

The CLI runs in this process (as in test_roles.py) unless a test says it runs the real one; the chat runs on the
Bot API and Graph API fakes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bot.config import Settings
from bot.models import utcnow
from tests.conftest import SYSTEM_USER, Chat, command_line, saved_lead, whatsapp_text
from tests.fakes.telegram import TEST_TOKEN, FakeUser
from tests.process import bot_env, run_cli
from tests.test_cli import assert_one_line_error
from tests.test_officers import ADMIN_ID, RINA_ID, SARI_ID, leads_by_name, make_officer, tasks
from tests.transcript import dialog

RINA_PHONE = "6281234567890"  # as WhatsApp gives it (wa_id)
MASKED = "+628*******890"
STRANGER_ID = 700009


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path):
    environ = {
        "DATABASE_URL": settings.database_url,
        "ADMIN_TELEGRAM_IDS": str(ADMIN_ID),
        "WHATSAPP_DISPLAY_NUMBER": "6281100000000",
    }
    return command_line(environ, monkeypatch, capsys, tmp_path)


class Terminal(io.StringIO):
    """What a person types at the terminal the command runs in."""

    def isatty(self) -> bool:
        return True


def audit(db, action: str | None = None) -> list[tuple]:
    rows = db("select actor, actor_role, action, detail, subject from audit_events where allowed order by id")
    return [
        (r["actor"], r["actor_role"], r["action"], json.loads(r["detail"]), r["subject"])
        for r in rows
        if action is None or r["action"] == action
    ]


def officers(db) -> list[tuple]:
    query = """select o.id, o.name, o.code, o.removed_at is null as active, c.channel, c.external_id, c.role
               from officers o join contacts c on c.id = o.contact_id order by o.id"""
    return [tuple(row) for row in db(query)]


def regions(db, officer_id: int) -> list[str]:
    return [r["region"] for r in db("select region from officer_regions where officer_id = ? order by 1", officer_id)]


# ------------------------------------------------------------------------------------------ /id


async def test_id_tells_a_telegram_worker_their_id_in_the_middle_of_a_step_and_asks_the_step_again(chat):
    await chat.command("start")

    await dialog(chat).play(f"""
        > /id
        < ID Telegram Anda: {chat.chat_id}
        < kirim angka ini kepada mereka
        < [🌾 Petani] [🎣 Nelayan] ...
        > [Nelayan]
        < Melaut itu berisiko
    """)


async def test_id_on_whatsapp_is_the_number_or_says_that_a_username_hides_it(whatsapp):
    siti = whatsapp.user(name="Siti", phone=RINA_PHONE)
    hidden = whatsapp.user(name="Ani", phone=None, username="ani.kaur")

    number = await siti.say("/id")
    none = await hidden.say("/id")

    assert "Nomor WhatsApp Anda: 0812-3456-7890" in whatsapp_text(number)
    assert "sebutkan nomor ini kepada mereka" in whatsapp_text(number)
    assert "nama pengguna" in whatsapp_text(none) and "tautan undangan" in whatsapp_text(none)


# ------------------------------------------------------------------------------------------ grants by phone


async def test_an_officer_added_by_phone_is_one_from_their_first_whatsapp_message(cli, whatsapp, new_chat, db):
    await saved_lead(new_chat("Budi"), region="Mukomuko")  # waits in the pool: Mukomuko has no officer yet
    added = await cli("officers", "add", "--name", "Rina Marlina", "--phone", "0812-3456-7890", "--region", "mukomuko")

    assert added.returncode == 0, added.stderr
    assert added.stdout == f"officer role for Rina Marlina (Mukomuko) waits for {MASKED}\n"
    assert "write from that number on WhatsApp" in added.stderr and "/id" in added.stderr
    [grant] = db("select phone, role, name, regions, used_at from invites")
    assert tuple(grant) == ("+6281234567890", "officer", "Rina Marlina", '["Mukomuko"]', None)
    assert officers(db) == []

    rina = whatsapp.user(name="Rina", phone=RINA_PHONE)
    work = await rina.say("/tugas")
    other = await whatsapp.user(name="Agus", phone="6281234567891").say("/tugas")

    assert "📞 Telepon Budi Santoso" in whatsapp_text(work), "an officer's command: the pool's lead is hers, due now"
    assert "hanya untuk petugas" in whatsapp_text(other)
    [(officer_id, name, _, active, channel, external_id, role)] = officers(db)
    assert (name, active, channel, external_id, role) == ("Rina Marlina", 1, "whatsapp", rina.user.user_id, "officer")
    assert leads_by_name(db) == {"Budi Santoso": officer_id}
    [used] = db("select used_at, officer_id, contact_id is not null as claimed from invites")
    assert used["used_at"] is not None and used["officer_id"] == officer_id and used["claimed"]
    assert [(actor, action, detail["change"], subject) for actor, _, action, detail, subject in audit(db)] == [
        (f"cli:{SYSTEM_USER}", "role", "grant", f"phone:{MASKED}"),
        (f"whatsapp:{rina.user.user_id}", "role", "claim", None),
    ]


async def test_on_telegram_the_grant_is_taken_by_sharing_ones_own_number_after_id(cli, new_chat, db):
    added = await cli("officers", "add", "--name", "Rina Marlina", "--phone", "+6281234567890", "--region", "Seluma")
    assert added.returncode == 0, added.stderr
    stranger = new_chat("Joko", user_id=STRANGER_ID)
    rina = new_chat("Rina", user_id=RINA_ID)
    worker = new_chat("Budi")
    await worker.command("start")
    mid_step = await dialog(worker).play("""
        > /id
        < ID Telegram Anda
        < [🌾 Petani] [🎣 Nelayan] ...
    """)
    assert not any(message.requests_contact for message in mid_step), "a worker's step is not left for it"

    offered = await dialog(stranger).play("""
        > /id
        < ID Telegram Anda: 700009
        < Staf menambahkan Anda lewat nomor HP?
        > +6281234567890
        < Nomor yang diketik tidak bisa dicocokkan
    """)
    someone_elses = await stranger.share_contact("+6281234567890", user_id=RINA_ID)
    await dialog(rina).play("""
        > /id
        < ID Telegram Anda: 700001
        < Staf menambahkan Anda lewat nomor HP?
        > (contact +6281234567890)
        < Nomor Anda cocok
        < Halo Rina Marlina! Anda terdaftar sebagai petugas lapangan BPU untuk Seluma.
        > /tugas
        < Tidak ada tugas untuk hari ini
    """)
    later = await dialog(stranger).play("""
        > (contact +6281234567891)
        < Tidak ada peran yang menunggu nomor ini
    """)

    assert offered[-1].requests_contact
    assert "Itu kontak orang lain" in someone_elses[0].text
    assert later[0].removes_keyboard
    assert [row[4:] for row in officers(db)] == [("telegram", str(RINA_ID), "officer")]
    assert db("select role from contacts where external_id = ?", str(STRANGER_ID))[0]["role"] is None
    assert audit(db)[-1][:3] == (f"telegram:{RINA_ID}", "officer", "role")


async def test_a_new_grant_to_a_number_replaces_the_waiting_one_and_a_grant_expires_after_seven_days(
    cli, whatsapp, clock, db
):
    clock.set_local(utcnow() + timedelta(minutes=1))  # the command line's own clock is the real one
    officer = await cli("officers", "add", "--name", "Rina Marlina", "--phone", "081234567890", "--region", "Seluma")
    staff = await cli("roles", "set", "--phone", "081234567890", "staff")
    listing = await whatsapp.user(name="Rina", phone=RINA_PHONE).say("/petugas")
    await cli("roles", "set", "--phone", "081298765432", "staff")
    clock.advance(days=7, minutes=1)
    late = await whatsapp.user(name="Agus", phone="6281298765432").say("/petugas")

    assert officer.returncode == staff.returncode == 0, staff.stderr
    assert staff.stdout == f"staff role waits for {MASKED}\n"
    assert "Belum ada petugas" in whatsapp_text(listing), (
        "staff, and not an officer: the second grant replaced the first"
    )
    assert "hanya untuk staf" in whatsapp_text(late)
    assert [
        (r["role"], r["used"]) for r in db("select role, used_at is not null as used from invites order by id")
    ] == [
        ("officer", 0),
        ("staff", 1),
        ("staff", 0),
    ]
    assert officers(db) == []


async def test_roles_set_by_phone_makes_a_whatsapp_user_staff_and_worker_again(cli, whatsapp, db):
    granted = await cli("roles", "set", "--phone", "0812 3456 7890", "staff")
    waiting = await cli("roles", "list")
    dewi = whatsapp.user(name="Dewi", phone=RINA_PHONE)
    listing = await dewi.say("/petugas")
    taken = await cli("roles", "set", "--phone", "+6281234567890", "worker")
    refused = await dewi.say("/petugas")
    officer = await cli("officers", "add", "--name", "Dewi Lestari", "--phone", "081234567890", "--region", "Kaur")

    assert granted.returncode == 0, granted.stderr
    assert re.search(rf"^staff +phone:{re.escape(MASKED)} +waiting until \d{{4}}-\d\d-\d\d$", waiting.stdout, re.M), (
        waiting.stdout
    )
    assert waiting.stderr == "1 people with a role, 1 grants waiting for a number\n"
    assert officer.stdout.startswith("officer 1 added: Dewi Lestari, Kaur, code ptg-"), "her number is known: at once"
    assert [row[4:] for row in officers(db)] == [("whatsapp", dewi.user.user_id, "officer")]
    assert "Belum ada petugas" in whatsapp_text(listing)
    assert taken.stdout == f"whatsapp:{dewi.user.user_id} is now worker (was staff)\n"
    assert "hanya untuk staf" in whatsapp_text(refused)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(
            ["roles", "set", "--phone", "12345", "staff"], "'12345' is not an Indonesian mobile", id="bad-phone"
        ),
        pytest.param(["roles", "set", "--phone", "+6591234567", "staff"], "not an Indonesian", id="foreign"),
        pytest.param(["roles", "set", "--phone", "0812345678", "555", "staff"], "only the role", id="id-and-phone"),
        pytest.param(["roles", "set", "staff"], "a Telegram user id and a role", id="no-one"),
        pytest.param(["roles", "set", "--phone", "081234567890", "officer"], "officers add --phone", id="officer"),
        pytest.param(
            ["officers", "add", "--name", "Rina", "--phone", "0812", "--region", "Seluma"],
            "--phone '0812'",
            id="add-bad-phone",
        ),
        pytest.param(
            [
                "officers",
                "add",
                "--name",
                "Rina",
                "--phone",
                "081234567890",
                "--telegram-id",
                "1",
                "--region",
                "Seluma",
            ],
            "not allowed with argument",
            id="add-both",
        ),
        pytest.param(["roles", "invite", "officer"], "officers invite", id="invite-officer-role"),
    ],
)
async def test_a_mistake_in_a_grant_by_phone_is_one_line_and_writes_nothing(cli, db, args, said):
    result = await cli(*args)

    assert_one_line_error(result, said)
    assert db("select count(*) from invites")[0][0] == db("select count(*) from audit_events")[0][0] == 0
    assert db("select count(*) from contacts")[0][0] == 0


# ------------------------------------------------------------------------------------------ invite links


async def test_an_invite_from_the_command_line_opens_on_whatsapp_once(cli, whatsapp, db):
    invited = await cli("officers", "invite", "--name", "Sari Dewi", "--region", "Seluma", "--region", "Kaur")
    [link] = invited.stdout.splitlines()
    text = parse_qs(urlparse(link).query)["text"][0]

    sari = await whatsapp.user(name="Sari", phone="6281298765432").say(text)
    again = await whatsapp.user(name="Agus", phone="6281234567891").say(text)

    assert invited.returncode == 0, invited.stderr
    assert link.startswith("https://wa.me/6281100000000?text=") and "inv-" in text
    assert "Halo Sari Dewi! Anda terdaftar sebagai petugas lapangan BPU untuk Kaur, Seluma." in whatsapp_text(sari)
    assert "sudah dipakai atau sudah kedaluwarsa" in whatsapp_text(again)
    assert [row[1:2] + row[4:] for row in officers(db)] == [("Sari Dewi", "whatsapp", "ID.1000000000000001", "officer")]


async def test_an_invite_made_in_the_chat_has_a_telegram_and_a_whatsapp_link(whatsapp, bot_api):
    admin = Chat(whatsapp.runtime.application, bot_api, FakeUser(bot_api, user_id=ADMIN_ID, first_name="Admin"))

    invited = await dialog(admin).play("""
        > /undang
        > Sari Dewi
        > [Seluma]
        > [Selesai]
        < Sari Dewi (Seluma)
        < https://t.me/bpu_test_bot?start=inv-
        < https://wa.me/6281100000000?text=
    """)
    link = re.search(r"https://wa\.me/\S+", invited[0].text).group(0)
    sari = await whatsapp.user(name="Sari", phone="6281298765432").say(parse_qs(urlparse(link).query)["text"][0])

    assert "Anda terdaftar sebagai petugas lapangan BPU untuk Seluma" in whatsapp_text(sari)


async def test_a_staff_invite_link_makes_its_first_user_staff_on_telegram(
    settings, new_chat, db, monkeypatch, capsys, tmp_path
):
    from bot.cli import officers as officers_cli

    async def telegram_link(settings, payload: str) -> str:  # what getMe would name the bot (test_e2e_telegram.py)
        return f"https://t.me/bpu_test_bot?start={payload}"

    monkeypatch.setattr(officers_cli, "_personal_link", telegram_link)
    environ = {
        "DATABASE_URL": settings.database_url,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "OPERATOR_NAME": "Kantor Cabang",
    }
    invited = await command_line(environ, monkeypatch, capsys, tmp_path)("roles", "invite", "staff")
    payload = re.search(r"start=(inv-[\w-]+)", invited.stdout)
    assert invited.returncode == 0 and payload, invited

    await dialog(new_chat("Dewi", user_id=SARI_ID)).play(f"""
        > /start {payload.group(1)}
        < Anda terdaftar sebagai staf untuk semua wilayah
        > /petugas
        < Belum ada petugas
    """)

    assert db("select role from contacts where external_id = ?", str(SARI_ID))[0]["role"] == "staff"
    [(_, _, _, made, _), (actor, role, _, claimed, _)] = audit(db, "role")
    assert made == {"change": "invite", "role": "staff"}
    assert (actor, role, claimed["change"], claimed["via"]) == (f"telegram:{SARI_ID}", "staff", "claim", "link")


# ------------------------------------------------------------------------------------------ officers edit


async def test_officers_edit_changes_regions_in_place_and_hands_on_the_work_of_a_removed_one(cli, app, new_chat, db):
    rina, code = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Kaur")
    sari, _ = await make_officer(app, SARI_ID, "Sari Dewi", "Mukomuko")
    await saved_lead(new_chat("Budi"), name="Budi Nelayan", phone="+6281234567890", region="Mukomuko")
    await saved_lead(new_chat("Tono"), name="Tono Petani", phone="+6281234567891", region="Seluma")
    assert leads_by_name(db) == {"Budi Nelayan": rina, "Tono Petani": None}

    asked = await cli("officers", "edit", str(rina), "--remove-region", "Mukomuko")  # no terminal, no --yes
    edited = await cli(
        "officers", "edit", str(rina), "--name", "Rina M.", "--add-region", "seluma", "--remove-region", "Mukomuko",
        "--yes",
    )  # fmt: skip

    assert asked.returncode == 2 and "Mukomuko: 1 lead, 1 open task -> 1 colleague" in asked.stderr

    assert edited.returncode == 0, edited.stderr
    assert edited.stdout == f"officer {rina} edited: Rina M., Kaur, Seluma, code {code} (unchanged)\n"
    assert edited.stderr == "1 waiting leads taken in added regions; 1 leads of removed ones handed over\n"
    assert regions(db, rina) == ["Kaur", "Seluma"]
    assert leads_by_name(db) == {"Budi Nelayan": sari, "Tono Petani": rina}
    assert sorted(tasks(db)) == [("call", "pending", rina, "Seluma", None), ("call", "pending", sari, "Mukomuko", None)]
    assert officers(db)[0][:4] == (rina, "Rina M.", code, 1), "the same officer, the same printed code"
    [(actor, _, action, detail, subject)] = audit(db)
    assert (actor, action, subject) == (f"cli:{SYSTEM_USER}", "officer", f"officer:{rina}")
    assert detail == {
        "change": "edit",
        "officer": rina,
        "name": "Rina M.",
        "added": ["Seluma"],
        "removed": ["Mukomuko"],
    }


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["9", "--name", "X Y"], "there is no officer with ID 9", id="unknown-id"),
        pytest.param(["x", "--name", "X Y"], "officer ID 'x' is not a number", id="not-an-id"),
        pytest.param(["1", "--add-region", "Jakarta"], "--add-region 'Jakarta' is not one of", id="unknown-region"),
        pytest.param(["1", "--remove-region", "Seluma"], "does not cover Seluma", id="not-covered"),
        pytest.param(
            ["1", "--remove-region", "Kaur", "--remove-region", "mukomuko"],
            "`bpu-bot officers remove 1`",
            id="last-region",
        ),
        pytest.param(["1"], "nothing to change", id="nothing"),
        pytest.param(["1", "--name", "7"], "at least two letters", id="bad-name"),
    ],
)
async def test_a_mistake_in_officers_edit_is_one_line_and_changes_nothing(cli, app, db, args, said):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Kaur")

    result = await cli("officers", "edit", *args)

    assert_one_line_error(result, said)
    assert regions(db, 1) == ["Kaur", "Mukomuko"]
    assert officers(db)[0][1] == "Rina Marlina"
    assert db("select count(*) from audit_events")[0][0] == 0


# ------------------------------------------------------------------------------------------ asking first


@pytest.mark.parametrize(
    ("typed", "done"),
    [("ya\n", True), ("YES\n", True), ("y\n", True), ("n\n", False), ("\n", False), ("", False)],
)
async def test_officers_remove_asks_saying_where_the_work_goes_and_acts_only_on_yes(
    cli, app, new_chat, db, monkeypatch, capsys, typed, done
):
    rina, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Kaur")
    await make_officer(app, SARI_ID, "Sari Dewi", "Mukomuko")
    await saved_lead(new_chat("Budi"), name="Budi Nelayan", phone="+6281234567890", region="Mukomuko")
    await saved_lead(new_chat("Tono"), name="Tono Petani", phone="+6281234567891", region="Kaur")
    monkeypatch.setattr("sys.stdin", Terminal(typed))

    result = await cli("officers", "remove", str(rina))

    assert (
        "officer 1 (Rina Marlina) stops being an officer; their work moves on: "
        "Kaur: 1 lead, 1 open task -> the pool; Mukomuko: 1 lead, 1 open task -> 1 colleague.\nGo ahead? [y/N] "
    ) in result.stderr
    if done:
        assert result.returncode == 0 and result.stdout == "officer 1 removed: Rina Marlina; 2 leads reassigned\n"
        assert officers(db)[0][3] == 0
    else:
        assert result.returncode == 2 and "bpu-bot: error: not confirmed: nothing changed" in result.stderr
        assert officers(db)[0][3] == 1 and leads_by_name(db) == {"Budi Nelayan": rina, "Tono Petani": rina}
        assert db("select count(*) from audit_events")[0][0] == 0


async def test_roles_set_worker_on_an_officer_asks_first_and_without_a_terminal_refuses(cli, app, db, monkeypatch):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    monkeypatch.setattr("sys.stdin", io.StringIO("ya\n"))  # piped in: not a terminal, so not an answer

    refused = await cli("roles", "set", str(RINA_ID), "worker")
    monkeypatch.setattr("sys.stdin", Terminal("ya\n"))
    confirmed = await cli("roles", "set", str(RINA_ID), "worker")

    assert_one_line_error(refused, "stops being an officer", "no open leads or tasks", "add --yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout == f"telegram:{RINA_ID} is now worker (was officer)\n"
    assert officers(db)[0][3] == 0


def test_the_real_command_line_grants_by_phone_invites_on_whatsapp_and_asks_before_removing(tmp_path):
    env = bot_env(tmp_path, WHATSAPP_DISPLAY_NUMBER="+62 811-0000-0000")
    by_phone = ["officers", "add", "--name", "Rina", "--phone", "0812-3456-7890", "--region", "Seluma"]
    by_id = ["officers", "add", "--name", "Sari", "--telegram-id", "700002", "--region", "Kaur"]

    pending = run_cli(by_phone, env, tmp_path)
    added = run_cli(by_id, env, tmp_path)
    invite = run_cli(["officers", "invite", "--name", "Joko", "--region", "Kaur"], env, tmp_path)
    piped = run_cli(["officers", "remove", "1"], env, tmp_path, input="ya\n")
    scripted = run_cli(["officers", "remove", "1", "--yes"], env, tmp_path)
    help_text = run_cli(["officers", "edit", "--help"], env, tmp_path)

    assert pending.returncode == 0 and pending.stdout == f"officer role for Rina (Seluma) waits for {MASKED}\n"
    assert added.returncode == 0 and added.stdout.startswith("officer 1 added: Sari, Kaur, code ptg-")
    assert invite.returncode == 0 and invite.stdout.startswith("https://wa.me/6281100000000?text=Halo")
    assert "inv-" in invite.stdout and "works once" in invite.stderr
    assert_one_line_error(piped, "officer 1 (Sari) stops being an officer", "add --yes")
    assert scripted.returncode == 0 and scripted.stdout == "officer 1 removed: Sari; 0 leads reassigned\n"
    assert "--add-region" in help_text.stdout and "--remove-region" in help_text.stdout
