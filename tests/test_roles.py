"""Roles as the office meets them: `bpu-bot roles set/list` on the server, what staff may then do in the chat,
what an officer made a worker again leaves behind, and the audit log of it all, erasure included.

The CLI runs in this process (as in test_export_cli.py) with ADMIN_TELEGRAM_IDS set; the chat runs on the Bot
API fake. Every mistake is one `bpu-bot: error: ...` line with exit code 2, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import SYSTEM_USER, command_line, saved_lead, welcomed
from tests.test_cli import assert_one_line_error
from tests.test_officers import ADMIN_ID, RINA_ID, SARI_ID, make_officer
from tests.transcript import dialog

STAFF_ID = 555


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path):
    environ = {"DATABASE_URL": settings.database_url, "ADMIN_TELEGRAM_IDS": str(ADMIN_ID)}
    return command_line(environ, monkeypatch, capsys, tmp_path)


def listed(stdout: str) -> list[list[str]]:
    """`roles list` read back: columns split on runs of two spaces."""
    header, *lines = stdout.splitlines()
    assert header.split() == ["ROLE", "WHO", "FROM", "ALSO"], header
    return [re.split(r" {2,}", line.strip()) for line in lines]


def audit(db, action: str | None = None) -> list[tuple]:
    rows = db("select actor, actor_role, action, allowed, detail, subject from audit_events order by id")
    return [
        (r["actor"], r["actor_role"], r["action"], r["allowed"], json.loads(r["detail"]), r["subject"])
        for r in rows
        if action is None or r["action"] == action
    ]


# ------------------------------------------------------------------------------------------ the command line


async def test_roles_set_makes_someone_staff_and_roles_list_shows_them_until_taken_away(cli, db):
    granted = await cli("roles", "set", str(STAFF_ID), "staff")
    roles = await cli("roles", "list")

    assert granted.returncode == 0, granted.stderr
    assert granted.stdout == f"telegram:{STAFF_ID} is now staff (was worker)\n"
    assert roles.returncode == 0, roles.stderr
    assert listed(roles.stdout) == [
        ["admin", f"telegram:{ADMIN_ID}", "ADMIN_TELEGRAM_IDS"],
        ["staff", f"telegram:{STAFF_ID}", "granted"],
    ], "the configured admin is listed even before they ever wrote"
    assert roles.stderr == "2 people with a role, 0 grants waiting for a number\n"
    assert db("select role from contacts where external_id = ?", str(STAFF_ID))[0]["role"] == "staff"
    assert audit(db) == [
        (
            f"cli:{SYSTEM_USER}",
            "admin",
            "role",
            1,
            {"previous": "worker", "role": "staff"},
            f"telegram:{STAFF_ID}",
        )
    ]

    taken = await cli("roles", "set", str(STAFF_ID), "worker")
    after = await cli("roles", "list")

    assert taken.stdout == f"telegram:{STAFF_ID} is now worker (was staff)\n"
    assert listed(after.stdout) == [["admin", f"telegram:{ADMIN_ID}", "ADMIN_TELEGRAM_IDS"]]
    assert audit(db)[-1][4:] == ({"previous": "staff", "role": "worker"}, f"telegram:{STAFF_ID}")


@pytest.mark.parametrize(
    ("telegram_id", "role", "said"),
    [
        pytest.param("budi", "staff", "'budi' is not a Telegram user id", id="not-digits"),
        pytest.param("-555", "staff", "'-555' is not a Telegram user id", id="negative"),
        pytest.param("５５５", "staff", "is not a Telegram user id", id="full-width-digits"),
        pytest.param("555", "boss", "role 'boss' is not one of: worker, staff, admin", id="unknown-role"),
        pytest.param("555", "officer", "bpu-bot officers add", id="officer-needs-regions"),
        pytest.param(str(ADMIN_ID), "worker", "ADMIN_TELEGRAM_IDS", id="configured-admin-to-worker"),
        pytest.param(str(ADMIN_ID), "staff", "ADMIN_TELEGRAM_IDS", id="configured-admin-to-staff"),
    ],
)
async def test_a_mistake_in_roles_set_is_one_line_and_changes_nothing(cli, db, telegram_id, role, said):
    result = await cli("roles", "set", telegram_id, role)

    assert_one_line_error(result, said)
    assert result.stdout == ""
    assert db("select count(*) from contacts")[0][0] == 0, "nobody was made, not even as a worker"
    assert db("select count(*) from audit_events")[0][0] == 0


async def test_a_configured_admin_also_granted_admin_still_cannot_be_made_a_worker(cli, db):
    granted = await cli("roles", "set", str(ADMIN_ID), "admin")

    demoted = await cli("roles", "set", str(ADMIN_ID), "worker")

    assert granted.returncode == 0, granted.stderr
    # They stay an admin through ADMIN_TELEGRAM_IDS whatever is stored: saying "is now worker" would be untrue.
    assert_one_line_error(demoted, "ADMIN_TELEGRAM_IDS")
    assert [row[4]["role"] for row in audit(db, "role")] == ["admin"], "no demotion in the audit log"


# ------------------------------------------------------------------------------------------ in the chat


async def test_staff_invite_officers_and_list_them_and_an_officer_is_refused_and_audited(cli, app, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    granted = await cli("roles", "set", str(STAFF_ID), "staff")
    assert granted.returncode == 0, granted.stderr
    staff = new_chat("Dewi", user_id=STAFF_ID)

    invited = await dialog(staff).play("""
        > /petugas
        < Petugas aktif
        < Rina Marlina — Mukomuko
        > /undang
        < Ketik nama petugas
        > Sari Dewi
        > [Seluma]
        > [Selesai]
        < Sari Dewi (Seluma)
    """)
    await dialog(new_chat("Rina", user_id=RINA_ID)).play("""
        > /undang
        < hanya untuk staf kantor cabang
    """)

    assert re.search(r"https://t\.me/bpu_test_bot\?start=inv-[\w-]+", invited[-1].text), invited[-1].text
    assert db("select count(*) from invites")[0][0] == 1
    assert [row[:4] for row in audit(db)] == [
        (f"cli:{SYSTEM_USER}", "admin", "role", 1),
        (f"telegram:{STAFF_ID}", "staff", "officer", 1),
        (f"telegram:{RINA_ID}", "officer", "invite", 0),
    ]
    assert audit(db)[1][4] == {"change": "invite", "name": "Sari Dewi", "regions": ["Seluma"]}


async def test_an_officer_made_a_worker_stops_being_one_and_their_leads_move_on(cli, app, new_chat, db):
    rina, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Kaur")
    sari, _ = await make_officer(app, SARI_ID, "Sari Dewi", "Mukomuko")
    await saved_lead(new_chat("Budi"), name="Budi Nelayan", phone="+6281234567890", region="Mukomuko")
    await saved_lead(new_chat("Tono"), name="Tono Petani", phone="+6281234567891", region="Kaur")
    leads = "select l.name, l.officer_id, f.officer_id as task from leads l join followups f on f.lead_id = l.id"
    before = {r["name"]: (r["officer_id"], r["task"]) for r in db(leads + " where f.kind = 'call'")}
    assert before == {"Budi Nelayan": (rina, rina), "Tono Petani": (rina, rina)}

    result = await cli("roles", "set", str(RINA_ID), "worker", "--yes")
    roles = await cli("roles", "list")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"telegram:{RINA_ID} is now worker (was officer)\n"
    after = {r["name"]: (r["officer_id"], r["task"]) for r in db(leads + " where f.kind = 'call'")}
    assert after == {"Budi Nelayan": (sari, sari), "Tono Petani": (None, None)}, "to a colleague, else the pool"
    assert db("select removed_at from officers where id = ?", rina)[0]["removed_at"] is not None
    assert db("select removed_at from officers where id = ?", sari)[0]["removed_at"] is None
    assert db("select role from contacts where external_id = ?", str(RINA_ID))[0]["role"] is None
    assert listed(roles.stdout) == [
        ["admin", f"telegram:{ADMIN_ID}", "ADMIN_TELEGRAM_IDS"],
        ["officer", f"telegram:{SARI_ID}", "granted", f"officer {sari} (Sari Dewi)"],
    ]
    assert audit(db, "role")[0][4:] == ({"previous": "officer", "role": "worker"}, f"telegram:{RINA_ID}")
    await dialog(new_chat("Rina", user_id=RINA_ID)).play("""
        > /tugas
        < hanya untuk petugas lapangan
    """)


# ------------------------------------------------------------------------------------------ erasure


async def test_an_erased_workers_refused_attempt_stays_in_the_audit_log_without_who_it_was(new_chat, db):
    worker = await welcomed(new_chat("Budi"))
    other = await welcomed(new_chat("Agus"))
    await dialog(worker).play("""
        > /siaran
        < hanya untuk petugas lapangan
    """)
    await other.command("siaran")
    assert audit(db)[0][:4] == (f"telegram:{worker.chat_id}", "worker", "broadcast", 0)

    await dialog(worker).play("""
        > HAPUS
        > [Ya, hapus semua]
        < sudah dihapus
    """)

    assert [row[:4] for row in audit(db)] == [
        ("erased", "worker", "broadcast", 0),
        (f"telegram:{other.chat_id}", "worker", "broadcast", 0),
    ], "the event is kept, only the erased person's name is gone"
    assert db("select count(*) from contacts where external_id = ?", str(worker.chat_id))[0][0] == 0


async def test_an_erased_staff_member_is_named_nowhere_in_the_audit_log(cli, new_chat, db):
    await cli("roles", "set", str(STAFF_ID), "staff")
    staff = new_chat("Dewi", user_id=STAFF_ID)
    await staff.command("undang")
    await staff.say("Sari Dewi")
    await staff.tap("Seluma")
    await staff.tap("Selesai")

    await staff.say("HAPUS")
    await staff.tap("Ya, hapus semua")

    events = audit(db)
    assert [row[:4] for row in events] == [
        (f"cli:{SYSTEM_USER}", "admin", "role", 1),
        ("erased", "staff", "officer", 1),
    ]
    mentions = "select id, actor, detail from audit_events where actor like ? or cast(detail as text) like ?"
    leftover = db(mentions, "%555%", "%555%")
    assert [tuple(row) for row in leftover] == [], "an erased person's Telegram id stays nowhere in the log"
