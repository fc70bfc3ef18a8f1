"""The dashboard benchmark's data: a year of a branch's outreach, generated row by row and loaded in bulk.

What is made, for `leads` leads and `deliveries` delivery rows (bench/dashboard.py runs it):

- 50 officers (contacts with the officer role, each covering one or two of the configured regions, five or so
  a region) and one staff member;
- the workers, arriving over the 12 months before `now`, more each month (a programme growing) and fewer on
  Sundays, in daytime hours (WIB): one contact per lead (55% Telegram, 45% WhatsApp; occupations in a branch's
  shares), its consents (contact, and reminders for 75%), and the lead in one of the regions (uneven shares),
  assigned round robin to an officer covering it (4% left in the pool), credited for 8% to the officer's code
  and for some to a campaign's button that ran in the days before;
- what happened to each lead: the call task saved with it, the officers' calls (older leads mostly called,
  outcomes in plausible shares, a second call after "reached" or "unreachable", a check-back after "will
  register", done or still pending and then overdue), the history entry of every call (actor "officer:<id>",
  a note for some), registrations the worker reported after a reminder (actor "worker"), the two reminders
  (sent with their WhatsApp receipts, cancelled after an outcome, or still pending), and for 2% a question to an
  officer with its answer;
- the workers of the last 30 days who never left their contact (1.6 per lead: a chat that never became a lead
  is kept 30 days), some with the consent to be contacted; texts the bot did not understand from recent chats
  (kept 30 days, a long tail of phrasings); and what retention and HAPUS erased before, as `erased_counts`;
- about 200 campaigns over the year (officers' to their regions, staff's to everyone, eight of those the
  largest), each sent to a stride of the contacts that existed when it started; the `deliveries` rows shared
  out by weight, each campaign at most 80% of those contacts: sent (WhatsApp ones with via and a receipt:
  read, delivered, sent, failed), failed (blocked, refused), skipped, unknown; one campaign still sending, one
  paused, four cancelled half way, two scheduled.

Retention as a deployment that keeps leads and deliveries a year (RETAIN_*_DAYS=365) and chats 30 days.
Rows are tuples in the column order of COLUMNS, loaded by executemany (SQLite) or COPY (PostgreSQL) with the
tables' secondary indexes dropped during the load and made again after, exactly as the migrations made them.
"""

from __future__ import annotations

import bisect
import math
import queue
import random
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.export import _names
from bot.content import load_content

DAY = timedelta(days=1)
YEAR_DAYS = 365
WIB = timedelta(hours=7)
OFFICERS = 50
STAFF_CONTACT = OFFICERS + 1
FIRST_WORKER = OFFICERS + 2  # contact ids: officers 1..50, staff 51, workers from 52 on, in order of arrival
OFFICER_TELEGRAM = 600_000_000  # officer k is Telegram user 600,000,000 + k; the staff member:
STAFF_TELEGRAM = "600001000"
CAMPAIGNS = 200
BATCH_DAYS = 7  # workers generated and loaded a week at a time (about 20,000 rows at a million leads)
DELIVERY_BATCH = 200_000
NON_LEADS_PER_LEAD = 1.6  # people of the last 30 days who chatted without leaving their contact
CHAT_DAYS = 30

COLUMNS = {
    "contacts": "id, channel, external_id, locale, occupation, source_code, role, state, state_data, state_serial,"
    " messages_stopped_at, unreachable_at, created_at, last_seen_at",
    "officers": "id, contact_id, name, code, assigned_serial, created_at",
    "officer_regions": "officer_id, region",
    "consents": "contact_id, purpose, text_version, granted, decided_at",
    "leads": "id, contact_id, name, phone, occupation, region, call_time, status, source_code, officer_id, channel,"
    " locale, created_at, updated_at, last_contact_at",
    "lead_events": "lead_id, from_status, to_status, actor, note, at",
    "followups": "contact_id, lead_id, kind, due_at, status, attempts, outcome, officer_id, region, text, via,"
    " receipt, receipt_at, created_at, updated_at",
    "misses": "contact_id, state, text, created_at",
    "campaigns": "id, created_by, author_contact_id, segment, text_id, text_en, button, status, starts_at,"
    " recipients, created_at, finished_at",
    "deliveries": "campaign_id, contact_id, status, not_before, attempts, outcome, platform_message_id, sent_at, via,"
    " receipt, receipt_at, error_code",
    "erased_counts": "reason, erased_month, started_month, lead_month, channel, occupation, region, outcome, count",
}
BULK_TABLES = ("contacts", "consents", "leads", "lead_events", "followups", "misses", "deliveries")

# ------------------------------------------------------------------------------------------ vocabularies

_OCCUPATIONS = ("petani", "pedagang", "nelayan", "ojol", "sopir", "lainnya")
_OCCUPATION_WEIGHTS = (30, 20, 10, 15, 10, 15)
_CALL_TIMES = ("pagi", "siang", "sore", "kapan")
_HOURS = tuple(range(24))  # local hours people write in, WIB
_HOUR_WEIGHTS = (1, 0, 0, 0, 1, 3, 6, 9, 10, 10, 9, 8, 9, 9, 8, 8, 8, 9, 10, 11, 11, 9, 5, 2)
# A first call's outcome, and a later call's (a second try reaches more people).
_FIRST_CALL = (("tidak_bisa_dihubungi", 25), ("dihubungi", 25), ("akan_daftar", 15), ("terdaftar", 20))
_FIRST_CALL += (("tidak_tertarik", 15),)
_LATER_CALL = (("tidak_bisa_dihubungi", 15), ("dihubungi", 15), ("akan_daftar", 15), ("terdaftar", 35))
_LATER_CALL += (("tidak_tertarik", 20),)
_CHECK_BACK = (("terdaftar", 60), ("tidak_tertarik", 15), ("akan_daftar", 10), ("tidak_bisa_dihubungi", 15))
_ENDED = ("terdaftar", "tidak_tertarik")
_NOTES = (
    "Minta ditelepon sore", "Sudah daftar lewat JMO", 'Bilang "nanti dulu", habis panen', "Nomor tidak aktif",
    "Istri yang angkat, telepon lagi besok", "Mau daftar di kantor cabang", "Tanya iuran untuk 2 orang",
    "Sudah punya BPJS dari pabrik", "Sedang melaut, telepon minggu depan", "Minta dikirim brosur lewat WA",
)  # fmt: skip
_QUESTIONS = (
    "Kalau saya meninggal, keluarga dapat berapa?", "Bayar iuran bisa lewat Indomaret?",
    "Apa bedanya dengan BPJS Kesehatan?", "Saya umur 58 masih bisa daftar?", "Iuran bisa dibayar per 3 bulan?",
)  # fmt: skip
# Texts the bot did not understand, most often first (a long tail: every chat types them its own way).
_MISSES = (
    "brp iuran nya bang", "bs daftar lwt hp?", "min", "p", "halo kak", "ok", "iya", "terima kasih",
    "sy mau tanya", "kantor bpjs dmn", "klaim jht gmn", "jkk itu apa", "knp blm ada yg telp",
    "anak sy jg bs?", "bayar pake dana bisa?", "gratis gak", "🙏", "👍", "assalamualaikum", "tes",
    "nomor sy ganti", "sy sdh daftar", "kartu hilang", "pencairan berapa lama", "mau berhenti",
)  # fmt: skip
_MISS_STATES = ("main", "main", "main", "interest/name", "interest/region", "calculator/income")
_TEXTS = (
    "Sosialisasi BPU di balai desa, Sabtu pukul 09.00. Iuran mulai Rp16.800 per bulan.",
    "Musim tanam tiba: lindungi diri dari kecelakaan kerja dengan BPJS Ketenagakerjaan, Rp16.800 sebulan.",
    "Nelayan, sebelum melaut pastikan sudah terlindungi. Daftar BPU cukup dengan KTP.",
    "Pembayaran iuran kini bisa di warung mitra terdekat. Tanya petugas kami.",
    "Santunan kematian Rp42 juta untuk ahli waris peserta. Daftar sekarang!",
    "Kantor cabang buka Sabtu ini untuk pendaftaran pekerja mandiri.",
)
_SEGMENTS_STAFF = ("{}", '{"occupation": "nelayan"}', '{"status": "baru"}', '{"channel": "whatsapp"}', "{}")


def _choices(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> Callable[[], str]:
    values = [value for value, _ in pairs]
    cumulative = []
    total = 0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return lambda: values[bisect.bisect_right(cumulative, rng.random() * total)]


class Stamps:
    """UTC moments as SQLAlchemy stores them on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff'); PostgreSQL reads the same
    text in a UTC session. Whole seconds from `origin` are cached: deliveries share them by the thousand."""

    def __init__(self, origin: datetime):
        self.origin = origin.replace(tzinfo=None)
        self.cache: dict[int, str] = {}

    def at(self, moment: datetime) -> str:
        return moment.replace(tzinfo=None).isoformat(" ", "microseconds")

    def second(self, seconds: int) -> str:
        text = self.cache.get(seconds)
        if text is None:
            text = self.cache[seconds] = (self.origin + timedelta(seconds=seconds)).isoformat(" ", "microseconds")
        return text


# ------------------------------------------------------------------------------------------ what was made


@dataclass
class Seeded:
    """What the benchmark needs to know of the data: when it was made, who signs in, the largest campaigns."""

    now: str = ""
    rows: dict[str, int] = field(default_factory=Counter)
    officer_telegram: str = str(OFFICER_TELEGRAM + 1)
    officer_regions: list[str] = field(default_factory=list)
    staff_telegram: str = STAFF_TELEGRAM
    largest_campaign: int = 0
    officer_largest_campaign: int = 0
    busiest_region: str = ""
    busiest_code: str = ""  # the campaign code most leads are credited to (cmp-<id>)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.__dict__, "rows": dict(self.rows)}

    @classmethod
    def from_json(cls, data: dict) -> Seeded:
        seeded = cls(**data)
        seeded.rows = Counter(data["rows"])
        return seeded


@dataclass
class World:
    rng: random.Random
    now: datetime
    stamps: Stamps
    regions: tuple[str, ...]
    covering: dict[str, list[int]]  # region -> officer ids
    officer_regions: dict[int, list[str]]
    codes: dict[int, str]
    consent_version: str
    names: list[str]
    cumulative: list[float]  # the regions' weights, summed: a region is drawn by bisection
    campaign_starts: list[datetime] = field(default_factory=list)  # in order; index + 1 is the campaign id
    campaign_buttons: list[bool] = field(default_factory=list)
    boundaries: list[int] = field(default_factory=list)  # the last contact id before each campaign started
    channels: bytearray = field(default_factory=bytearray)  # by contact id: 1 for WhatsApp
    next_contact: int = FIRST_WORKER
    next_lead: int = 1
    round_robin: Counter = field(default_factory=Counter)


def _world(rng: random.Random, now: datetime) -> World:
    content = load_content()
    regions = content.regions
    # A provincial capital and a few big kabupaten bring most leads; the smallest a few percent.
    weights = [1.0 / (1 + 0.35 * index) for index in range(len(regions))]
    covering: dict[str, list[int]] = {region: [] for region in regions}
    officer_regions: dict[int, list[str]] = {}
    for officer in range(1, OFFICERS + 1):
        chosen = [regions[(officer - 1) % len(regions)]]
        if officer % 5 == 0:
            chosen.append(regions[(officer + 2) % len(regions)])
        officer_regions[officer] = list(dict.fromkeys(chosen))
        for region in officer_regions[officer]:
            covering[region].append(officer)
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = {k: "ptg-" + "".join(rng.choice(alphabet) for _ in range(6)) + f"{k:02d}" for k in officer_regions}
    cumulative = [sum(weights[: index + 1]) for index in range(len(weights))]
    return World(
        rng, now, Stamps(now - DAY * (YEAR_DAYS + 30)), regions, covering, officer_regions, codes,
        content.consent_version, _names(rng), cumulative,
    )  # fmt: skip


def _staff_rows(world: World) -> dict[str, list[tuple]]:
    made = world.stamps.at(world.now - DAY * (YEAR_DAYS + 20))
    contacts = [
        (k, "telegram", str(OFFICER_TELEGRAM + k), "id", None, None, "officer", "main", "{}", 3, None, None)
        + (made, made)
        for k in range(1, OFFICERS + 1)
    ]
    contacts.append((STAFF_CONTACT, "telegram", STAFF_TELEGRAM, "id", None, None, "staff", "main", "{}", 3, None, None))
    contacts[-1] += (made, made)
    first, last = ("Rahmat", "Siti", "Yudi", "Dewi", "Made", "Andi", "Fransiska", "Eko"), ("Hidayat", "Lestari")
    return {
        "contacts": contacts,
        "officers": [
            (k, k, f"{first[k % len(first)]} {last[k % len(last)]} {k}", world.codes[k], 0, made)
            for k in range(1, OFFICERS + 1)
        ],
        "officer_regions": [(k, region) for k, regions in world.officer_regions.items() for region in regions],
    }


# ------------------------------------------------------------------------------------------ the workers


def _daily_counts(rng: random.Random, total: int, start: datetime) -> list[int]:
    """Leads a day over the year: growing from half the average to one and a half, fewer on Sundays, noisy."""
    weights = []
    for day in range(YEAR_DAYS):
        weekday = (start + DAY * day).weekday()
        weights.append((0.5 + day / YEAR_DAYS) * (0.4 if weekday == 6 else 1.0) * rng.uniform(0.8, 1.2))
    scale = total / sum(weights)
    counts, made, running = [], 0, 0.0
    for weight in weights:
        running += weight * scale
        counts.append(round(running) - made)
        made += counts[-1]
    return counts


def _day_moments(rng: random.Random, day_start: datetime, count: int) -> list[datetime]:
    """`count` moments within a local day, in daytime mostly, in order."""
    hours = rng.choices(_HOURS, _HOUR_WEIGHTS, k=count)
    return sorted(day_start + timedelta(hours=hour, seconds=rng.random() * 3600) for hour in hours)


class Rows(dict):
    """One batch's rows, table by table, in the order they must be loaded."""

    def __init__(self) -> None:
        super().__init__((table, []) for table in ("contacts", "consents", "leads", "lead_events", "followups"))
        self["misses"] = []


def _contact(
    world: World, rows: Rows, created: datetime, occupation: str | None, last_seen: datetime, source: str | None = None
) -> int:
    rng = world.rng
    contact = world.next_contact
    world.next_contact += 1
    whatsapp = rng.random() < 0.45
    world.channels.append(1 if whatsapp else 0)
    external = f"62812{contact:08d}" if whatsapp else str(1_000_000_000 + contact)
    locale = "en" if rng.random() < 0.05 else "id"
    roll = rng.random()
    stopped = world.stamps.at(created + (world.now - created) * rng.random()) if roll < 0.02 else None
    unreachable = world.stamps.at(created + (world.now - created) * rng.random()) if roll > 0.99 else None
    rows["contacts"].append(
        (contact, "whatsapp" if whatsapp else "telegram", external, locale, occupation, source, None, "main", "{}")
        + (rng.randrange(3, 40), stopped, unreachable, world.stamps.at(created), world.stamps.at(last_seen))
    )
    return contact


def _consents(world: World, rows: Rows, contact: int, at: datetime, reminders: bool | None) -> None:
    moment = world.stamps.at(at)
    rows["consents"].append((contact, "lead_contact", world.consent_version, True, moment))
    if reminders is not None:
        rows["consents"].append((contact, "reminders", world.consent_version, reminders, moment))


def _lead(world: World, rows: Rows, created: datetime, draw: dict[str, Callable[[], str]]) -> None:
    """A worker who left their contact at `created`, and everything that happened to the lead since."""
    rng, stamps, now = world.rng, world.stamps, world.now
    lead = world.next_lead
    world.next_lead += 1
    region = world.regions[bisect.bisect_right(world.cumulative, rng.random() * world.cumulative[-1])]
    occupation = draw["occupation"]()
    officers = world.covering[region]
    officer = None
    if officers and rng.random() >= 0.04:
        officer = officers[world.round_robin[region] % len(officers)]
        world.round_robin[region] += 1
    source = None
    roll = rng.random()
    if roll < 0.08 and officer is not None:
        source = world.codes[officer]  # came through the officer's own link
    elif roll < 0.3:
        index = bisect.bisect_right(world.campaign_starts, created) - 1
        if index >= 0 and world.campaign_buttons[index] and created - world.campaign_starts[index] < DAY * 5:
            source = f"cmp-{index + 1}"
    reminders = rng.random() < 0.75
    # The contact came a few minutes before the lead; the consent just before the lead was saved.
    arrived = created - timedelta(seconds=rng.randrange(90, 900))
    contact = _contact(world, rows, arrived, occupation, created, source)
    _consents(world, rows, contact, created - timedelta(seconds=rng.randrange(20, 80)), reminders)
    whatsapp = world.channels[contact - FIRST_WORKER] == 1

    status = "baru"
    events: list[tuple] = []
    tasks: list[tuple] = []
    created_stamp = stamps.at(created)
    first_task_due = created + timedelta(hours=1)

    last = created

    def call(at: datetime, outcome: str) -> None:
        nonlocal status, last
        last = at
        note = rng.choice(_NOTES) if rng.random() < 0.3 else None
        events.append((lead, status, outcome, f"officer:{officer}", note, stamps.at(at)))
        status = outcome

    def task(due: datetime, state: str, outcome: str | None, settled: datetime | None) -> None:
        tasks.append(
            (contact, lead, "call", stamps.at(due), state, 0, outcome, officer, region, None, None, None, None)
            + (created_stamp, stamps.at(settled or due))
        )

    age_days = (now - created) / DAY
    self_registered = None
    if reminders and rng.random() < 0.05:
        self_registered = created + DAY * 3 + timedelta(hours=rng.uniform(0, 30))
    ended_at = None
    if officer is not None and age_days > 0.5 and rng.random() < min(0.95, 0.1 + age_days / 20):
        at = created + timedelta(hours=min(24 * 20, rng.lognormvariate(math.log(30), 1.0)) + 1)
        outcome_of = draw["first"]
        open_task: tuple[datetime, datetime] | None = (first_task_due, created)
        for _ in range(4):
            if at >= now or (self_registered is not None and self_registered < at):
                break
            outcome = outcome_of()
            call(at, outcome)
            if open_task is not None:
                task(open_task[0], "done", outcome, at)
                open_task = None
            if outcome in _ENDED:
                ended_at = at
                break
            if outcome == "akan_daftar":  # the officer checks back on the day the worker said
                check_back = at + DAY * rng.randrange(7, 22)
                if rng.random() < 0.3 or check_back + DAY * 2 >= now:  # not yet, or forgotten: pending, maybe overdue
                    task(check_back, "pending", None, at)
                    break
                open_task = (check_back, at)
                at = check_back + timedelta(hours=rng.uniform(1, 48))
                outcome_of = draw["check_back"]
            elif rng.random() < 0.4:
                at += DAY * rng.uniform(2, 10)
                outcome_of = draw["later"]
            else:
                break
        if open_task is not None:  # a check-back not made yet, or a first call that has not happened
            task(open_task[0], "pending", None, open_task[1])
    else:
        task(first_task_due, "pending", None, created)  # not called yet: overdue once its day has passed
    if self_registered is not None and ended_at is None and self_registered < now:
        events.append((lead, status, "terdaftar", "worker", None, stamps.at(self_registered)))
        status, ended_at, last = "terdaftar", self_registered, self_registered
        tasks = [row[:4] + ("cancelled", 0, "terdaftar") + row[7:14] + (stamps.at(self_registered),)
                 if row[4] == "pending" else row for row in tasks]  # fmt: skip
    rows["lead_events"].extend(events)
    rows["followups"].extend(tasks)
    if reminders:
        for days in (3, 14):
            due = created + DAY * days
            if ended_at is not None and ended_at < due:
                row = (contact, lead, "reminder", stamps.at(due), "cancelled", 0, status) + (None,) * 6
                rows["followups"].append(row + (created_stamp, stamps.at(ended_at)))
            elif due < now:
                sent = due + timedelta(seconds=rng.randrange(1, 120))
                failed = rng.random() < 0.03
                receipt, receipt_at = None, None
                if whatsapp and not failed:
                    receipt = "read" if rng.random() < 0.6 else "delivered"
                    receipt_at = stamps.at(sent + timedelta(minutes=rng.randrange(1, 600)))
                rows["followups"].append(
                    (contact, lead, "reminder", stamps.at(due), "failed" if failed else "sent", 1)
                    + ("blocked" if failed else None, None, None, None, "template" if whatsapp else None, receipt)
                    + (receipt_at, created_stamp, stamps.at(sent))
                )
            else:
                rows["followups"].append(
                    (contact, lead, "reminder", stamps.at(due), "pending", 0) + (None,) * 7 + (created_stamp,) * 2
                )
    if rng.random() < 0.02 and officer is not None:  # a question for an officer ("Tanya petugas"), mostly answered
        asked = created + timedelta(minutes=rng.randrange(2, 30))
        answered = asked + timedelta(hours=rng.uniform(1, 72))
        done = answered < now and rng.random() < 0.85
        rows["followups"].append(
            (contact, lead, "question", stamps.at(asked), "done" if done else "pending", 0, None, officer, region)
            + (rng.choice(_QUESTIONS), None, None, None, stamps.at(asked), stamps.at(answered if done else asked))
        )
        if done:
            rows["followups"].append(
                (contact, lead, "answer", stamps.at(answered), "sent", 1, None, None, None, "Bisa, Pak/Bu.", None)
                + (None, None, stamps.at(answered), stamps.at(answered))
            )
    name = world.names[lead % len(world.names)]
    phone = f"+62812{contact:08d}" if whatsapp else f"+6285{rng.randrange(10**8, 10**9)}"
    rows["leads"].append(
        (lead, contact, name, phone, occupation, region, rng.choice(_CALL_TIMES), status, source, officer)
        + ("whatsapp" if whatsapp else "telegram", rows["contacts"][-1][3], created_stamp, stamps.at(last))
        + (stamps.at(last),)
    )
    if created > now - DAY * CHAT_DAYS:
        _misses(world, rows, contact, created)


def _misses(world: World, rows: Rows, contact: int, since: datetime) -> None:
    """Texts the bot did not understand, for 6% of recent chats: a Zipf-like tail of phrasings."""
    rng = world.rng
    if rng.random() >= 0.06:
        return
    for _ in range(rng.choice((1, 1, 2, 3))):
        index = min(len(_MISSES) - 1, int(rng.paretovariate(1.2)) - 1)
        text = _MISSES[index] if rng.random() < 0.7 else f"{_MISSES[index]} {rng.randrange(1, 500)}"
        at = since + (world.now - since) * rng.random()
        rows["misses"].append((contact, rng.choice(_MISS_STATES), text, world.stamps.at(at)))


def _chatter(world: World, rows: Rows, created: datetime, draw: dict[str, Callable[[], str]]) -> None:
    """Someone of the last 30 days who chatted and left no contact: an occupation for most, the consent for some."""
    rng = world.rng
    occupation = draw["occupation"]() if rng.random() < 0.75 else None
    last_seen = min(world.now, created + timedelta(minutes=rng.expovariate(1 / 30)))
    contact = _contact(world, rows, created, occupation, last_seen)
    if occupation and rng.random() < 0.3:
        _consents(world, rows, contact, created + timedelta(minutes=2), rng.random() < 0.5 or None)
    _misses(world, rows, contact, created)


def _workers(world: World, leads: int) -> Iterator[Rows]:
    rng = world.rng
    start = (world.now + WIB).replace(hour=0, minute=0, second=0, microsecond=0) - WIB - DAY * (YEAR_DAYS - 1)
    draw = {
        "occupation": lambda: rng.choices(_OCCUPATIONS, _OCCUPATION_WEIGHTS)[0],
        "first": _choices(rng, _FIRST_CALL),
        "later": _choices(rng, _LATER_CALL),
        "check_back": _choices(rng, _CHECK_BACK),
    }
    recent = world.now - DAY * CHAT_DAYS
    counts = _daily_counts(rng, leads, start)
    rows = Rows()
    for day, count in enumerate(counts):
        day_start = start + DAY * day
        moments = [(moment, True) for moment in _day_moments(rng, day_start, count)]
        if day_start + DAY > recent:
            chatters = _day_moments(rng, day_start, round(count * NON_LEADS_PER_LEAD))
            moments = sorted(moments + [(moment, False) for moment in chatters])
        for moment, is_lead in moments:
            if moment >= world.now:  # today's hours still to come: the day before at that hour instead, so
                moment -= DAY  # that today so far looks like a day so far (the count stays as asked)
            while (
                len(world.boundaries) < len(world.campaign_starts)
                and world.campaign_starts[len(world.boundaries)] <= moment
            ):
                world.boundaries.append(world.next_contact - 1)
            if is_lead:
                _lead(world, rows, moment, draw)
            else:
                _chatter(world, rows, moment, draw)
        if (day + 1) % BATCH_DAYS == 0 or day == len(counts) - 1:
            yield rows
            rows = Rows()
    while len(world.boundaries) < len(world.campaign_starts):
        world.boundaries.append(world.next_contact - 1)


# ------------------------------------------------------------------------------------------ the campaigns


@dataclass
class Campaign:
    id: int
    starts: datetime
    status: str
    officer: int | None
    button: bool
    weight: float
    size: int = 0


def _plan_campaigns(world: World) -> list[Campaign]:
    """About 200 over the year, in order of their start: the last still sending, one paused, four cancelled,
    two scheduled for the coming days; eight staff broadcasts to everyone weigh most."""
    rng = world.rng
    first = world.now - DAY * (YEAR_DAYS - 10)
    span = (world.now - DAY * 1 - first) / (CAMPAIGNS - 2)
    campaigns = []
    big = set(rng.sample(range(10, CAMPAIGNS - 3), 8))
    for index in range(CAMPAIGNS):
        if index >= CAMPAIGNS - 2:
            starts, status = world.now + DAY * (index - CAMPAIGNS + 3), "scheduled"
        else:
            starts = first + span * index + timedelta(hours=rng.uniform(-20, 20))
            starts = (starts + WIB).replace(hour=rng.choice((8, 9, 10, 13, 15)), minute=0) - WIB
            status = "done"
        starts = min(starts, world.now - timedelta(hours=6)) if status != "scheduled" else starts
        if index == CAMPAIGNS - 3:
            status = "sending"
        elif index == CAMPAIGNS - 4:
            status = "paused"
        elif index in (40, 90, 130, 170):
            status = "cancelled"
        officer = None if index in big or rng.random() < 0.25 else rng.randrange(1, OFFICERS + 1)
        weight = 40.0 if index in big else rng.lognormvariate(0, 1)
        if officer is None and index not in big:
            weight *= 3
        campaigns.append(Campaign(index + 1, starts, status, officer, rng.random() < 0.5, weight))
    campaigns.sort(key=lambda campaign: campaign.starts)
    for number, campaign in enumerate(campaigns, 1):
        campaign.id = number
    for campaign in campaigns[5::25]:  # officer 1, who signs in, has campaigns of her own over the year
        if campaign.officer is not None:
            campaign.officer = 1
    world.campaign_starts = [campaign.starts for campaign in campaigns]
    world.campaign_buttons = [campaign.button for campaign in campaigns]
    return campaigns


def _size_campaigns(campaigns: list[Campaign], boundaries: list[int], deliveries: int) -> None:
    """Share `deliveries` out by weight, each campaign to at most 80% of the contacts there were when it started."""
    caps = {c.id: int(0.8 * max(0, boundaries[c.id - 1] - FIRST_WORKER + 1)) for c in campaigns}
    live = [c for c in campaigns if c.status != "scheduled" and caps[c.id] > 0]
    left = deliveries
    while live and left > 0:
        total = sum(c.weight for c in live)
        capped = [c for c in live if c.size + left * c.weight / total >= caps[c.id]]
        if not capped:
            shares = [int(left * c.weight / total) for c in live]
            for c, share in zip(live, shares, strict=True):
                c.size += share
            live[-1].size += left - sum(shares)
            break
        for c in capped:
            left -= caps[c.id] - c.size
            c.size = caps[c.id]
            live.remove(c)


def _campaign_rows(world: World, campaigns: list[Campaign]) -> list[tuple]:
    rng, stamps = world.rng, world.stamps
    rows = []
    for c in campaigns:
        if c.officer is not None:
            author, author_contact = f"officer:{c.officer}", c.officer
            segment = '{"regions": [' + ", ".join(f'"{r}"' for r in world.officer_regions[c.officer]) + "]}"
        else:
            author, author_contact, segment = f"staff:c{STAFF_CONTACT}", STAFF_CONTACT, rng.choice(_SEGMENTS_STAFF)
        text = _TEXTS[c.id % len(_TEXTS)]
        finished = (
            stamps.at(c.starts + timedelta(seconds=c.size / 25 + 60)) if c.status in ("done", "cancelled") else None
        )
        recipients = c.size if c.status != "scheduled" else None
        rows.append(
            (c.id, author, author_contact, segment, text, None, "interest" if c.button else None, c.status)
            + (stamps.at(c.starts), recipients, stamps.at(c.starts - DAY * rng.uniform(0.1, 3)), finished)
        )
    return rows


def _deliveries(world: World, campaigns: list[Campaign]) -> Iterator[list[tuple]]:
    """Each campaign's rows in the order the engine sent them: a stride over the contacts of its time."""
    rng, stamps = world.rng, world.stamps
    origin = stamps.origin.replace(tzinfo=UTC)
    outcome = _choices(rng, (("sent", 930), ("failed", 25), ("skipped", 40), ("unknown", 5)))
    receipt = _choices(rng, (("read", 58), ("delivered", 34), ("sent", 5), ("failed", 3)))
    skipped = ("stopped", "no_consent", "no_longer_reachable")
    batch: list[tuple] = []
    for c in campaigns:
        if not c.size:
            continue
        stamps.cache.clear()  # a campaign's seconds are its own: the cache stays one campaign's size
        eligible = world.boundaries[c.id - 1] - FIRST_WORKER + 1
        step = eligible / c.size
        offset = rng.random() * step
        start = int((c.starts - origin).total_seconds())
        not_before = stamps.second(start)
        # How far the campaign got: all of it, or a part for one still sending, paused or cancelled.
        reached = {"sending": 0.6, "paused": 0.3, "cancelled": 0.5}.get(c.status, 1.0) * c.size
        for index in range(c.size):
            contact = FIRST_WORKER + int(offset + index * step)
            whatsapp = world.channels[contact - FIRST_WORKER] == 1
            if index >= reached:
                state = "cancelled" if c.status == "cancelled" else ("sending" if index < reached + 20 else "pending")
                batch.append((c.id, contact, state, not_before, 0, "cancelled" if state == "cancelled" else None)
                             + (None,) * 6)  # fmt: skip
            else:
                sent_second = start + int(index / 25)
                state = outcome()
                sent = stamps.second(sent_second)
                if state == "sent":
                    message = f"wamid.HBgNNjI4MTIVAgARGBI{c.id:04X}{contact:08X}A" if whatsapp else str(index + 7)
                    got = receipt() if whatsapp else None
                    got_at = stamps.second(sent_second + rng.randrange(2, 4000)) if got else None
                    batch.append((c.id, contact, "sent", not_before, 1, None, message, sent)
                                 + ("template" if whatsapp else None, got, got_at, None))  # fmt: skip
                elif state == "failed":
                    blocked = rng.random() < 0.7
                    batch.append((c.id, contact, "failed", not_before, 1, "blocked" if blocked else "refused", None)
                                 + (None, None, None, None, 403 if blocked else 400))  # fmt: skip
                elif state == "skipped":
                    batch.append((c.id, contact, "skipped", not_before, 0, rng.choice(skipped)) + (None,) * 6)
                else:
                    batch.append((c.id, contact, "unknown", not_before, 1, "interrupted") + (None,) * 6)
            if len(batch) >= DELIVERY_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


# ------------------------------------------------------------------------------------------ erased people


def _erased(world: World, leads_by_month: Counter) -> list[tuple]:
    """What the purge left of chats that never became leads (per month they started, 1.6 a lead) and of the
    people who asked HAPUS (a few a month, any outcome): anonymous counts."""
    rng = world.rng
    rows = []
    months = sorted(leads_by_month)
    for month in months[:-1]:
        year, number = map(int, month.split("-"))
        erased_month = f"{year + number // 12}-{number % 12 + 1:02d}"
        for channel in ("telegram", "whatsapp"):
            for occupation in ("", *_OCCUPATIONS):
                count = int(leads_by_month[month] * NON_LEADS_PER_LEAD / 14 * rng.uniform(0.5, 1.5))
                if count:
                    rows.append(("retention", erased_month, month, "", channel, occupation, "", "no_lead", count))
        for region in world.regions:
            for outcome in ("baru", "dihubungi", "terdaftar", "tidak_tertarik"):
                if (count := rng.randrange(0, 6)) > 0:
                    occupation = rng.choice(_OCCUPATIONS)
                    rows.append(("request", erased_month, month, month, "telegram", occupation, region, outcome, count))
    return rows


# ------------------------------------------------------------------------------------------ all of it


def generate(leads: int, deliveries: int, seed: int, now: datetime, seeded: Seeded) -> Iterator[tuple[str, list]]:
    """(table, rows) in the order they can be loaded, counting into `seeded` as they go."""
    rng = random.Random(seed)
    world = _world(rng, now)
    seeded.now = now.isoformat()
    seeded.officer_regions = world.officer_regions[1]
    yield from _staff_rows(world).items()
    campaigns = _plan_campaigns(world)
    by_month: Counter = Counter()
    by_region: Counter = Counter()
    by_code: Counter = Counter()
    for batch in _workers(world, leads):
        for lead in batch["leads"]:
            by_month[lead[12][:7]] += 1
            by_region[lead[5]] += 1
            if lead[8] and lead[8].startswith("cmp-"):
                by_code[lead[8]] += 1
        yield from batch.items()
    _size_campaigns(campaigns, world.boundaries, deliveries)
    yield "campaigns", _campaign_rows(world, campaigns)
    yield from (("deliveries", batch) for batch in _deliveries(world, campaigns))
    yield "erased_counts", _erased(world, by_month)
    live = [c for c in campaigns if c.size]
    seeded.largest_campaign = max(live, key=lambda c: c.size).id if live else 0
    own = [c for c in live if c.officer == 1]
    seeded.officer_largest_campaign = max(own, key=lambda c: c.size).id if own else 0
    seeded.busiest_region = by_region.most_common(1)[0][0] if by_region else world.regions[0]
    seeded.busiest_code = by_code.most_common(1)[0][0] if by_code else "cmp-1"


# ------------------------------------------------------------------------------------------ loading


def ahead(rows: Iterator[tuple[str, list]], convert: Callable[[list], Any] = lambda rows: rows) -> Iterator:
    """The rows made (and converted) in a thread of their own, a few batches ahead, while the database takes the
    ones before: the database's driver lets go of the GIL while it waits, so making and loading overlap on two
    cores."""
    made: queue.Queue = queue.Queue(maxsize=3)
    done = object()

    def make() -> None:
        try:
            for table, batch in rows:
                made.put((table, len(batch), convert(batch)))
            made.put(done)
        except BaseException as error:  # noqa: BLE001 handed over: the loading thread raises it
            made.put(error)

    threading.Thread(target=make, daemon=True, name="bench-rows").start()
    while (item := made.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def _placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def seed_sqlite(path: str, leads: int, deliveries: int, seed: int, now: datetime) -> Seeded:
    """Into a migrated SQLite file: one connection, no journal while loading (a scratch file: a crash means
    seeding again), the bulk tables' own indexes made after their rows."""
    seeded = Seeded()
    connection = sqlite3.connect(path)
    try:
        connection.execute("pragma journal_mode = off")
        connection.execute("pragma synchronous = off")
        connection.execute("pragma cache_size = -262144")  # 256 MB while the indexes are built
        indexes = []
        for table in BULK_TABLES:
            found = connection.execute(
                "select name, sql from sqlite_master where type = 'index' and tbl_name = ? and sql is not null",
                (table,),
            ).fetchall()
            indexes += found
            for name, _sql in found:
                connection.execute(f"drop index {name}")
        began = time.perf_counter()
        for table, count, rows in ahead(generate(leads, deliveries, seed, now, seeded)):
            if rows:
                names = COLUMNS[table]
                connection.executemany(f"insert into {table} ({names}) values ({_placeholders(names)})", rows)
                seeded.rows[table] += count
        connection.commit()
        seeded.seconds["rows"] = time.perf_counter() - began
        began = time.perf_counter()
        for _name, sql in indexes:
            connection.execute(sql)
        connection.commit()
        seeded.seconds["indexes"] = time.perf_counter() - began
        # No ANALYZE: the bot never runs it, so SQLite's planner works without statistics in service too.
        connection.execute("pragma journal_mode = wal")  # as the bot leaves its file
    finally:
        connection.close()
    return seeded


# A field that is None, as COPY's text format writes it (\\N). No generated text is "None" or holds a tab, a
# newline or a backslash (they come from the fixed lists above), so the rows can be joined by C code, unescaped.
_NONE = re.compile(r"(?:^|(?<=\t))None(?=\t|$)", re.MULTILINE)


def copy_text(rows: list[tuple]) -> str:
    text = "\n".join(["\t".join(map(str, row)) for row in rows]) + "\n"
    if "\\" in text:
        raise ValueError("a generated value holds a backslash: COPY would read it as an escape")
    return _NONE.sub(r"\\N", text)


def seed_postgresql(url: str, leads: int, deliveries: int, seed: int, now: datetime) -> Seeded:
    """Into a migrated PostgreSQL database by COPY (text lines joined here: psycopg's per-value adaptation, and
    ours, took longer than the server), the bulk tables' secondary indexes made after their rows, foreign keys
    not checked row by row while loading when the role may (session_replication_role: the rows are consistent
    by construction), then VACUUM ANALYZE as autovacuum would have left a database that has run a while."""
    seeded = Seeded()
    with psycopg.connect(url, options="-c timezone=UTC") as connection:
        try:
            connection.execute("set session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            connection.rollback()
        connection.execute("set maintenance_work_mem = '256MB'")
        indexes = connection.execute(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i"
            " where i.indrelid = any(%s::regclass[]) and not i.indisprimary"
            " and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)",
            (list(BULK_TABLES),),
        ).fetchall()
        for name, _sql in indexes:
            connection.execute(f"drop index {name}")
        began = time.perf_counter()
        for table, count, text in ahead(generate(leads, deliveries, seed, now, seeded), copy_text):
            if not count:
                continue
            with connection.cursor() as cursor, cursor.copy(f"copy {table} ({COLUMNS[table]}) from stdin") as copy:
                copy.write(text)
            seeded.rows[table] += count
            if table in ("followups", "deliveries"):
                connection.commit()
        connection.commit()
        seeded.seconds["rows"] = time.perf_counter() - began
        began = time.perf_counter()
        for _name, sql in indexes:
            connection.execute(sql)
        for table in ("contacts", "leads", "officers", "campaigns"):  # ids given: the sequences must follow
            connection.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))")
        connection.commit()
        seeded.seconds["indexes"] = time.perf_counter() - began
        began = time.perf_counter()
        connection.autocommit = True
        connection.execute("vacuum analyze")
        seeded.seconds["vacuum analyze"] = time.perf_counter() - began
    return seeded
