"""`bpu-bot broadcast ...` as staff meet it on the server: create, list, show, pause/resume/cancel, report, follow.

Every mistake ends in exit code 2 and one `bpu-bot: error: ...` line, with nothing written. The CLI runs in this
process (main() in a thread, as it runs its own event loop) against the test's migrated SQLite file, so the
workers can be made through the chat drivers and the deliveries sent by the engine on the Bot API fake; two
tests run it as a real process, the way test_cli.py does, for the entry point and Ctrl-C on a terminal.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pty
import re
import select
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import broadcast_follow
from bot.config import Settings
from bot.models import utcnow
from bot.services.campaigns import cancel_campaign, get_campaign, start_due_campaigns
from bot.services.segments import Segment
from tests.conftest import WIB, Chat, Result, campaign_for, command_line, send_campaigns, stored_lead
from tests.process import PYTHON, bot_env, run_cli
from tests.test_cli import assert_one_line_error

PHONES = ["+6281234567890", "+6281234567891", "+6281234567892"]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path):
    """`bpu-bot broadcast <args>` in this process, configured only with the test's DATABASE_URL."""
    return command_line({"DATABASE_URL": settings.database_url}, monkeypatch, capsys, tmp_path, "broadcast")


async def workers(new_chat, *specs: tuple[str, str]) -> list[Chat]:
    """Workers who left their contact and agreed to messages: (name, region), each with their own phone;
    stored through the capture's services (tests/conftest.py's stored_lead)."""
    return [
        await stored_lead(new_chat(name.split()[0]), name, phone, region)
        for (name, region), phone in zip(specs, PHONES, strict=False)
    ]


def one_line_error(result: Result, *mentions: str) -> str:
    return assert_one_line_error(result, *mentions)  # the same contract as every other command


def table(stdout: str) -> list[dict[str, str]]:
    """`broadcast list` read back: columns split on runs of two spaces (the text column may hold single ones)."""
    header, *lines = stdout.splitlines()
    names = header.split()
    return [dict(zip(names, re.split(r" {2,}", line.strip()), strict=True)) for line in lines]


def fields(stdout: str) -> dict[str, str]:
    """`broadcast show` read back: name, then the value (continuation lines joined with newlines)."""
    shown: dict[str, str] = {}
    name = ""
    for line in stdout.splitlines():
        if line.startswith(" "):
            shown[name] += "\n" + line.strip()
        else:
            name, _, value = line.partition(" ")
            shown[name] = value.strip()
    return shown


def tomorrow_at_eight() -> datetime:
    return (datetime.now(WIB) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


# ------------------------------------------------------------------------------------------ create


async def test_create_writes_the_campaign_with_its_segment_texts_button_and_start(cli, new_chat, tmp_path, db):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"), ("Ani Lestari", "Mukomuko"), ("Dedi", "Kaur"))
    (tmp_path / "pesan.txt").write_text("Sosialisasi BPU 🎣\nSabtu pukul 09.00 di balai desa.\n", encoding="utf-8")
    (tmp_path / "message.txt").write_bytes("\ufeffBPU briefing on Saturday, 9 am.".encode())  # Notepad's BOM
    at = tomorrow_at_eight()

    result = await cli(
        "create",
        "--text-file", "pesan.txt",
        "--text-file-en", "message.txt",
        "--segment", "occupation=nelayan, region=mukomuko",
        "--at", at.strftime("%Y-%m-%dT%H:%M"),
        "--button", "interest",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"campaign 1 created: 2 recipients now, starts {at:%Y-%m-%d %H:%M} WIB\n"
    assert result.stderr == ""  # 08:00 is in the send hours; not a terminal, so nothing is followed
    [campaign] = db("select * from campaigns")
    assert campaign["segment"] == '{"occupation": "nelayan", "regions": ["Mukomuko"]}'
    assert campaign["text_id"] == "Sosialisasi BPU 🎣\nSabtu pukul 09.00 di balai desa."
    assert campaign["text_en"] == "BPU briefing on Saturday, 9 am."
    assert (campaign["button"], campaign["status"], campaign["created_by"]) == ("interest", "scheduled", "cli")
    assert campaign["author_contact_id"] is None and campaign["recipients"] is None
    assert datetime.fromisoformat(campaign["starts_at"]).replace(tzinfo=UTC) == at.astimezone(UTC)


async def test_create_leaves_out_ended_leads_says_how_many_per_status_and_reaches_a_status_chosen_on_purpose(
    cli, new_chat, tmp_path, db, clock, broadcaster
):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"), ("Ani Lestari", "Mukomuko"), ("Dedi", "Mukomuko"))
    db("update leads set status = 'tidak_tertarik' where name = 'Ani Lestari'")
    db("update leads set status = 'terdaftar' where name = 'Dedi'")
    (tmp_path / "pesan.txt").write_text("Sosialisasi BPU Sabtu pukul 09.00.", encoding="utf-8")
    at = tomorrow_at_eight()
    start = ("--text-file", "pesan.txt", "--at", at.strftime("%Y-%m-%dT%H:%M"))

    default = await cli("create", *start, "--segment", "region=mukomuko")
    on_purpose = await cli("create", *start, "--segment", "region=mukomuko,status=tidak_tertarik")

    assert default.stdout.splitlines() == [
        f"campaign 1 created: 1 recipients now, starts {at:%Y-%m-%d %H:%M} WIB",
        "left out because of their lead's status: 1 terdaftar, 1 tidak_tertarik"
        " (to reach them, add status=<that status> to --segment)",
    ]
    assert on_purpose.stdout == f"campaign 2 created: 1 recipients now, starts {at:%Y-%m-%d %H:%M} WIB\n"
    clock.set_local(at + timedelta(minutes=1))
    await send_campaigns(broadcaster)
    delivered = db(
        "select campaign_id, leads.name from deliveries join leads using (contact_id)"
        " where deliveries.status = 'sent' order by campaign_id"
    )
    assert [tuple(row) for row in delivered] == [(1, "Budi Santoso"), (2, "Ani Lestari")]


async def test_create_without_a_time_starts_now_and_takes_the_other_time_format(cli, new_chat, tmp_path, db):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"))
    (tmp_path / "pesan.txt").write_text("Pengingat: daftar BPU mulai Rp16.800 sebulan.", encoding="utf-8")
    before, at = utcnow(), tomorrow_at_eight()

    now = await cli("create", "--text-file", "pesan.txt", "--segment", "")
    later = await cli("create", "--text-file", "pesan.txt", "--segment", "", "--at", f"{at:%Y-%m-%d %H:%M}")

    assert now.returncode == 0 and later.returncode == 0, now.stderr + later.stderr
    assert re.fullmatch(r"campaign 1 created: 1 recipients now, starts \d{4}-\d\d-\d\d \d\d:\d\d WIB\n", now.stdout)
    assert later.stdout.startswith("campaign 2 created: 1 recipients now")
    starts = [datetime.fromisoformat(r[0]).replace(tzinfo=UTC) for r in db("select starts_at from campaigns")]
    assert before - timedelta(seconds=1) <= starts[0] <= utcnow()
    assert starts[1] == at.astimezone(UTC)
    assert db("select segment, text_en, button from campaigns where id = 1")[0][:] == ("{}", None, None)


def _files(tmp_path: Path) -> None:
    (tmp_path / "pesan.txt").write_text("Sosialisasi BPU besok.", encoding="utf-8")
    (tmp_path / "kosong.txt").write_text(" \n\t\n", encoding="utf-8")
    (tmp_path / "panjang.txt").write_text("a" * 1001, encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Sosialisasi di Kantor Desa, Café".encode("latin-1"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--segment", "color=red"], "unknown segment key 'color'", id="bad-segment-key"),
        pytest.param(["--segment", "region=Jakarta"], "region 'Jakarta' is not one of", id="unknown-region"),
        pytest.param(["--segment", "occupation"], "is not key=value", id="segment-not-key-value"),
        pytest.param(["--segment", "region=Kaur"], "no one in this segment can receive broadcasts", id="zero-audience"),
        pytest.param(["--segment", "", "--text-file", "hilang.txt"], "hilang.txt: no such file", id="missing-file"),
        pytest.param(["--segment", "", "--text-file", "kosong.txt"], "kosong.txt is empty", id="empty-file"),
        pytest.param(["--segment", "", "--text-file", "panjang.txt"], "has 1001 characters;", id="too-long"),
        pytest.param(["--segment", "", "--text-file", "latin1.txt"], "is not UTF-8", id="not-utf8"),
        pytest.param(["--segment", "", "--text-file", "."], "is a folder", id="folder"),
        pytest.param(["--segment", "", "--text-file-en", "hilang.txt"], "--text-file-en hilang.txt", id="missing-en"),
        pytest.param(["--segment", "", "--at", "2026-01-05T08:00"], "is in the past", id="at-in-the-past"),
        pytest.param(["--segment", "", "--at", "besok pagi"], "is not a local date and time", id="at-not-a-time"),
        pytest.param(["--segment", "", "--at", "2026-02-30 08:00"], "is not a local date", id="at-no-such-day"),
        pytest.param(["--segment", "", "--button", "link"], "--button 'link' is not one of", id="bad-button"),
        pytest.param(["--text-file", "pesan.txt"], "required: --segment", id="no-segment"),
    ],
)  # fmt: skip
async def test_a_mistake_in_create_is_one_line_and_writes_nothing(cli, new_chat, tmp_path, db, args, said):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"))
    _files(tmp_path)
    if "--text-file" not in args:
        args = ["--text-file", "pesan.txt", *args]

    result = await cli("create", *args)

    one_line_error(result, said)
    assert result.stdout == ""
    assert db("select count(*) from campaigns")[0][0] == 0


@pytest.mark.parametrize(
    ("command", "said"),
    [
        pytest.param(["pause", "tiga"], "campaign ID 'tiga' is not a number", id="pause-word"),
        pytest.param(["resume", "-1"], "campaign ID '-1' is not a number", id="resume-negative"),
        pytest.param(["cancel", "99"], "there is no campaign 99", id="cancel-unknown"),
        pytest.param(["show", "99999999999999999999"], "there is no campaign", id="show-huge"),
        pytest.param(["report", "1x", "--output", "r.csv"], "campaign ID '1x' is not a number", id="report-word"),
        pytest.param(["report", "1", "--output", "r.csv", "--lang", "fr"], "--lang 'fr' is not one of", id="lang"),
        pytest.param(["pause"], "required: ID", id="no-id"),
        pytest.param(["stop", "1"], "invalid choice: 'stop'", id="unknown-command"),
    ],
)
async def test_a_bad_campaign_id_or_option_is_one_line(cli, app, db, tmp_path, command, said):
    await campaign_for(app)

    result = await cli(*command)

    one_line_error(result, said)
    assert result.stdout == ""
    assert db("select status from campaigns")[0][0] == "scheduled"
    assert not (tmp_path / "r.csv").exists()


# ------------------------------------------------------------------------------------------ list, show


async def test_list_and_show_give_each_campaigns_counts_and_never_a_phone_number(
    cli, app, new_chat, broadcaster, bot_api
):
    budi, ani, dedi = await workers(
        new_chat, ("Budi Santoso", "Mukomuko"), ("Ani Lestari", "Mukomuko"), ("Dedi", "Kaur")
    )
    bot_api.block(ani.chat_id)
    first = await campaign_for(
        app,
        "Sosialisasi BPU di balai desa,\nSabtu pukul 09.00. Bawa KTP ya, semua pekerja dipersilakan.",
        text_en="BPU briefing at the village hall,\nSaturday 9 am.",
        segment=Segment(occupation="nelayan", regions=("Mukomuko", "Kaur")),
        button="interest",
    )
    await send_campaigns(broadcaster)
    later = app.dispatcher.clock() + timedelta(days=2)
    second = await campaign_for(app, "Pengingat iuran", starts_at=later, created_by="officer:1")

    listed = await cli("list")
    shown = await cli("show", str(first))
    waiting = await cli("show", str(second))

    assert listed.returncode == 0 and shown.returncode == 0 and waiting.returncode == 0, listed.stderr
    rows = table(listed.stdout)
    assert [row["ID"] for row in rows] == [str(second), str(first)], "newest first"
    assert rows[1] == {
        "ID": str(first),
        "STATUS": "done",
        "STARTS": "2026-11-23 10:00",
        "BY": "cli",
        "RECIPIENTS": "3",
        "SENT": "2",
        "FAILED": "0",
        "BLOCKED": "1",
        "SKIPPED": "0",
        "WAITING": "0",
        "TEXT": "Sosialisasi BPU di balai desa, Sabtu puk…",
    }
    assert rows[0] | {"TEXT": ""} == {
        "ID": str(second),
        "STATUS": "scheduled",
        "STARTS": "2026-11-25 10:00",
        "BY": "officer:1",
        "RECIPIENTS": "-",
        **dict.fromkeys(("SENT", "FAILED", "BLOCKED", "SKIPPED", "WAITING"), "0"),
        "TEXT": "",
    }
    assert listed.stderr == "2 campaigns (Asia/Jakarta)\n"
    done = fields(shown.stdout)
    assert {name: done[name] for name in ("campaign", "status", "by", "starts", "button", "recipients")} == {
        "campaign": str(first),
        "status": "done",
        "by": "cli",
        "starts": "2026-11-23 10:00 WIB",
        "button": "interest",
        "recipients": "3",
    }
    assert done["finished"] == "2026-11-23 10:00 WIB"
    assert done["segment"] == "occupation=nelayan,region=Mukomuko,region=Kaur"
    assert [done[n] for n in ("sent", "failed", "blocked", "skipped", "waiting")] == ["2", "0", "1", "0", "0"]
    assert (
        done["text_id"] == "Sosialisasi BPU di balai desa,\nSabtu pukul 09.00. Bawa KTP ya, semua pekerja dipersilakan."
    )
    assert done["text_en"] == "BPU briefing at the village hall,\nSaturday 9 am."
    scheduled = fields(waiting.stdout)
    assert (scheduled["status"], scheduled["recipients"], scheduled["finished"]) == ("scheduled", "-", "-")
    assert scheduled["segment"] == "(everyone who agreed to messages)"
    assert scheduled["text_en"].startswith("- (English readers get the Indonesian text)")
    for result in (listed, shown, waiting):
        output = result.stdout + result.stderr
        assert not re.search(r"\d{7,}|0812|\+62", output), output


# ------------------------------------------------------------------------------------------ pause, resume, cancel


async def test_pause_resume_and_cancel_move_the_campaign_and_refuse_what_its_state_forbids(cli, app, new_chat, db):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"), ("Ani Lestari", "Mukomuko"))
    scheduled = await campaign_for(app, starts_at=app.dispatcher.clock() + timedelta(hours=2))

    steps = [await cli(*command, str(scheduled)) for command in (["pause"], ["pause"], ["resume"], ["cancel"])]
    status_after = db("select status from campaigns where id = ?", scheduled)[0][0]
    again = [await cli(command, str(scheduled)) for command in ("resume", "cancel")]

    assert [s.stdout for s in steps] == [
        f"campaign {scheduled} paused\n",
        "",
        f"campaign {scheduled} resumed (scheduled)\n",
        f"campaign {scheduled} cancelled before it started\n",
    ]
    one_line_error(steps[1], f"campaign {scheduled} is paused: only a scheduled or sending one pauses")
    assert status_after == "cancelled"
    one_line_error(again[0], f"campaign {scheduled} is cancelled: only a paused one resumes")
    one_line_error(again[1], f"campaign {scheduled} is already cancelled")

    sending = await campaign_for(app)
    async with app.dispatcher.sessions.begin() as session:
        await start_due_campaigns(session, app.content.consent_versions, app.dispatcher.clock())
    paused = await cli("pause", str(sending))
    resumed = await cli("resume", str(sending))
    cancelled = await cli("cancel", str(sending))

    assert paused.stdout == f"campaign {sending} paused\n"
    assert resumed.stdout == f"campaign {sending} resumed (sending)\n"
    assert cancelled.stdout == f"campaign {sending} cancelled: 2 messages will not be sent\n"
    assert [r[0] for r in db("select status from deliveries where campaign_id = ?", sending)] == ["cancelled"] * 2
    assert db("select status, finished_at is not null from campaigns where id = ?", sending)[0][:] == ("cancelled", 1)


# ------------------------------------------------------------------------------------------ report


async def test_report_writes_a_csv_that_survives_commas_quotes_emoji_and_formulas(
    cli, app, new_chat, broadcaster, db, tmp_path
):
    odd = 'Siti, "Ani" 🌾 Rahma'
    await workers(new_chat, (odd, "Mukomuko"), ("Budi Santoso", "Kaur"), ("Formula Orang", "Seluma"))
    # Whatever the chat lets through, a name can come from elsewhere: one a spreadsheet would run.
    db("""update leads set name = '=HYPERLINK("http://x.invalid","klik")' where id = 3""")
    campaign = await campaign_for(app)
    await send_campaigns(broadcaster)
    (tmp_path / "laporan").mkdir()

    result = await cli("report", str(campaign), "--output", "laporan/siaran.csv")
    english = await cli(
        "report", str(campaign), "--output", "laporan/report.csv", "--lang", "en", "--no-bom", "--delimiter", "comma"
    )

    assert result.returncode == 0 and english.returncode == 0, result.stderr + english.stderr
    assert result.stdout == "3 rows written to laporan/siaran.csv\n"
    assert "laporan/siaran.csv holds names and phone numbers" in result.stderr and "then delete it" in result.stderr
    assert sorted(os.listdir(tmp_path / "laporan")) == ["report.csv", "siaran.csv"], "no temporary file left"
    raw = (tmp_path / "laporan" / "siaran.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert (tmp_path / "laporan" / "siaran.csv").stat().st_mode & 0o777 == 0o600, "names and phones: owner only"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))  # Excel, id
    assert list(rows[0]) == [
        "no", "nama", "telepon", "kabupaten/kota", "saluran", "bahasa", "status", "keterangan", "waktu kirim",
        "laporan whatsapp", "membalas", "tertarik",
    ]  # fmt: skip
    assert [(r["no"], r["nama"], r["telepon"], r["kabupaten/kota"], r["status"]) for r in rows] == [
        ("1", odd, "0812-3456-7890", "Mukomuko", "terkirim"),
        ("2", "Budi Santoso", "0812-3456-7891", "Kaur", "terkirim"),
        ("3", """'=HYPERLINK("http://x.invalid","klik")""", "0812-3456-7892", "Seluma", "terkirim"),
    ]
    assert rows[0]["membalas"] == "tidak" and rows[0]["tertarik"] == "tidak"
    plain = (tmp_path / "laporan" / "report.csv").read_bytes()
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert list(csv.DictReader(io.StringIO(plain.decode("utf-8"), newline="")))[0]["name"] == odd


async def test_a_report_that_cannot_be_written_is_one_line_and_leaves_nothing(cli, app, tmp_path):
    campaign = await campaign_for(app)
    (tmp_path / "laporan").mkdir()
    (tmp_path / "laporan" / "siaran.csv").write_text("the report from yesterday\n")
    (tmp_path / "terkunci").mkdir(mode=0o500)

    missing = await cli("report", str(campaign), "--output", "tidak-ada/siaran.csv")
    folder = await cli("report", str(campaign), "--output", "laporan")
    locked = await cli("report", str(campaign), "--output", "terkunci/siaran.csv")
    unknown = await cli("report", "7", "--output", "laporan/siaran.csv")

    one_line_error(missing, "cannot write tidak-ada/siaran.csv", "No such file or directory")
    one_line_error(folder, "--output laporan is a folder")
    if os.geteuid() != 0:  # root writes anywhere
        one_line_error(locked, "cannot write terkunci/siaran.csv", "Permission denied")
        assert os.listdir(tmp_path / "terkunci") == []
    one_line_error(unknown, "there is no campaign 7")
    assert not (tmp_path / "tidak-ada").exists()
    assert os.listdir(tmp_path / "laporan") == ["siaran.csv"]
    assert (tmp_path / "laporan" / "siaran.csv").read_text() == "the report from yesterday\n"


# ------------------------------------------------------------------------------------------ follow


async def test_following_redraws_one_line_until_the_end_and_says_once_when_nothing_moves(
    app, settings, clock, new_chat, broadcaster
):
    await workers(new_chat, ("Budi Santoso", "Mukomuko"), ("Ani Lestari", "Mukomuko"))
    campaign = await campaign_for(app)
    async with app.dispatcher.sessions.begin() as session:  # started, but no bot is sending it
        await start_due_campaigns(session, app.content.consent_versions, clock())
    out = io.StringIO()

    async def cancel_later() -> None:
        # Once it has said so, and a few redraws later: saying it again would show then. (Not after a fixed
        # time: opening the database may take longer than the quiet time on a loaded machine.)
        async with asyncio.timeout(10):
            while "waiting for the running bot" not in out.getvalue():  # noqa: ASYNC110 - polling the output
                await asyncio.sleep(0.01)
            redraws = out.getvalue().count("\r")
            while out.getvalue().count("\r") < redraws + 5:  # noqa: ASYNC110 - polling the output
                await asyncio.sleep(0.01)
        async with app.dispatcher.sessions.begin() as session:
            await cancel_campaign(session, await get_campaign(session, campaign), clock())

    canceller = asyncio.create_task(cancel_later())
    status = await broadcast_follow.follow(settings, campaign, out, poll=0.01, quiet=0.1, clock=clock)
    await canceller

    shown = out.getvalue()
    assert status == "cancelled"
    assert "\rsending [----------]   0% sent 0 failed 0 blocked 0 skipped 0 waiting 2" in shown
    assert shown.count("waiting for the running bot (`bpu-bot run`) to send it") == 1
    assert shown.endswith("\rcancelled [##########] 100% sent 0 failed 0 blocked 0 skipped 2 waiting 0\n")

    done = await campaign_for(app, "Pengingat kedua")
    await send_campaigns(broadcaster)
    out = io.StringIO()
    assert await broadcast_follow.follow(settings, done, out, poll=0.01, clock=clock) == "done"
    assert out.getvalue() == "\rdone [##########] 100% sent 2 failed 0 blocked 0 skipped 0 waiting 0\n"


async def test_create_follows_only_on_a_terminal_and_ctrl_c_stops_watching_not_sending(app, new_chat, tmp_path, db):
    """A real process with its stdout on a pseudo-terminal, interrupted as a person presses Ctrl-C."""
    await workers(new_chat, ("Budi Santoso", "Mukomuko"))
    (tmp_path / "pesan.txt").write_text("Sosialisasi BPU besok.", encoding="utf-8")
    args = ["broadcast", "create", "--text-file", "pesan.txt", "--segment", ""]
    returncode, screen, stderr = interrupted_on_a_terminal(args, bot_env(tmp_path), tmp_path)

    assert returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "campaign 1 created: 1 recipients now" in screen
    assert "\rscheduled: starting" in stderr or "\rsending [" in stderr, stderr
    assert stderr.rstrip().endswith(
        "stopped watching campaign 1; the running bot keeps sending it (`bpu-bot broadcast show 1`)"
    )
    assert db("select status from campaigns")[0][0] == "scheduled", "Ctrl-C stops watching, not the campaign"


def interrupted_on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`python -m bot <args>` with stdout on a pseudo-terminal; Ctrl-C (SIGINT) once it drew a progress line.

    Returns the exit code, what the terminal showed, and stderr."""
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [PYTHON, "-m", "bot", *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=secondary,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        os.close(secondary)
        try:
            stderr = b""
            deadline = time.monotonic() + 15
            while b"\r" not in stderr and time.monotonic() < deadline and process.poll() is None:
                if select.select([process.stderr], [], [], 0.1)[0]:
                    stderr += os.read(process.stderr.fileno(), 4096)
            process.send_signal(signal.SIGINT)
            _, rest = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        screen = b""
        while select.select([primary], [], [], 0)[0]:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # Linux: EIO once the other side is closed and drained
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(primary)
    return process.returncode, screen.decode(), (stderr + rest).decode()


def test_the_installed_entry_point_says_a_mistake_in_one_line(tmp_path: Path):
    result = run_cli(["broadcast", "cancel", "abc"], bot_env(tmp_path), tmp_path, fresh=True)

    assert_one_line_error(result, "campaign ID 'abc' is not a number")
    assert result.stdout == ""
