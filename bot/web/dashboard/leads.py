"""Prospek: the leads chosen by region, occupation, status, officer, source code and the day they were saved, 50
a page, newest first, names and numbers masked until one is shown on purpose; the same leads as a file beside
them (lead_download.py).

The filters are GET parameters, each checked against the choices the form offers this viewer (an officer: her
regions and herself), and become the export's LeadFilter, so the list and the file always hold the same leads.

Pages are numbered (staff say "page 3", and the count is shown) and read with OFFSET, up to LAST_PAGE: what
OFFSET skips then stays under 10,000 index entries, however many leads there are; further down, the filters or
the download serve better than paging. A page past the end is a 404 page, a page number that is no number or
past LAST_PAGE a 400 page.

Showing a name and number is a POST to the page's own address (filters and page number kept in it) with the
CSRF token (checked by signed_in) and the lead's id; it is in the audit log before the answer, which is the same
page with that one row unmasked. Nothing in an address can show it again later: reloading posts again, and is
audited again. An officer's id of a lead outside her regions, or of none: 404, and the refusal is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import LeadStatus, Occupation
from bot.phone import display_phone, mask_phone
from bot.services.audit import Actor, record_event
from bot.services.dashboard import Period
from bot.services.dashboard_access import Viewer
from bot.services.dashboard_leads import LeadRow, lead_in_reach, lead_page, officers_to_filter
from bot.services.exports import LeadFilter, count_leads
from bot.services.leads import is_source_code
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.rendering import DASHBOARD, PAGES, BadInput, Dashboard, chosen_period, number, page

PAGE_SIZE = 50
LAST_PAGE = 200  # 10,000 leads reachable by page number
REVEAL = "dashboard_reveal"  # the audit log's action for a name and number shown
ID_DIGITS = 9  # a lead id longer than this is forged (ids are 32-bit): refused before any query


@dataclass(frozen=True)
class Filters:
    """The filters as chosen (`given`: the parameters that repeat them in a link) and as the export's filter,
    with the choices the form offers this viewer."""

    period: Period
    given: dict[str, str]
    chosen: LeadFilter
    regions: list[str]
    officers: list[tuple[int, str]]


def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise BadInput("dashboard.leads.bad_choice", title="dashboard.leads.bad_title", name=name, given=raw[:40])
    return raw


async def chosen_filters(request: web.Request, session: AsyncSession, viewer: Viewer, dashboard: Dashboard) -> Filters:
    """The page's filters from its query, checked: a value the form does not offer this viewer is a 400 page."""
    period = chosen_period(request, dashboard)
    if viewer.regions is not None and not viewer.regions:
        # No region would mean no region filter, every lead: an officer without regions sees none.
        raise BadInput("dashboard.leads.no_regions", status=403, title="dashboard.no_access.title")
    regions = list(viewer.regions if viewer.regions is not None else dashboard.content.regions)
    officers = await officers_to_filter(session, None if viewer.sees_all else viewer.contact.id)
    region = _choice(request, "wilayah", regions)
    occupation = _choice(request, "pekerjaan", list(Occupation))
    status = _choice(request, "status", list(LeadStatus))
    officer = _choice(request, "petugas", [str(officer_id) for officer_id, _ in officers])
    source = request.query.get("kode", "").strip()
    if source and not is_source_code(source):
        raise BadInput("dashboard.leads.bad_source", title="dashboard.leads.bad_title", given=source[:40])
    chosen = LeadFilter(
        since=period.first,
        until=period.last,
        # An officer's leads are always limited to her regions, chosen one or not.
        regions=(region,) if region else viewer.regions or (),
        occupation=occupation,
        status=status,
        source=source or None,
        officer=int(officer) if officer else None,
    )
    values = {
        "dari": period.first.isoformat(),
        "sampai": period.last.isoformat(),
        "wilayah": region,
        "pekerjaan": occupation,
        "status": status,
        "petugas": officer,
        "kode": source,
    }
    given = {name: value for name, value in values.items() if value}
    return Filters(period, given, chosen, regions, officers)


def _page_number(request: web.Request) -> int:
    raw = request.query.get("halaman", "").strip() or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= LAST_PAGE:
        raise BadInput("dashboard.leads.bad_page", title="dashboard.leads.bad_title", given=raw[:40], last=LAST_PAGE)
    return int(raw)


async def _reveal(request: web.Request, session: AsyncSession, viewer: Viewer, dashboard: Dashboard) -> int:
    """The lead whose name and number the form asks to show, in the audit log; 404 when it is not the viewer's."""
    raw = (await request.post()).get("lihat", "")
    digits = isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= ID_DIGITS
    lead_id = int(raw) if digits else None  # type: ignore[arg-type]  # (a str: checked just above)
    actor = Actor.of_contact(viewer.contact, viewer.role)
    now = dashboard.clock()
    if lead_id is None or not await lead_in_reach(session, lead_id, viewer.regions):
        if lead_id is not None:
            await record_event(session, actor, REVEAL, now, allowed=False, lead=lead_id)
        raise BadInput("dashboard.leads.no_lead", status=404, title="dashboard.leads.no_lead_title")
    await record_event(session, actor, REVEAL, now, lead=lead_id)  # the id only: never a name or a number
    return lead_id


def masked_name(name: str) -> str:
    """ "Budi Santoso" as "B*** S***": enough to find a row again, not to know who it is."""
    return " ".join(word[0] + "***" for word in name.split()) or "***"


def masked_phone(phone: str) -> str:
    """+6281234567890 as 0812*****890, the way staff write numbers, masked as logs mask them."""
    return mask_phone(display_phone(phone).replace("-", ""))


def _address(path: str, values: dict[str, str]) -> str:
    return f"{path}?{urlencode(values)}"


@signed_in
async def leads(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    tz = dashboard.settings.tz
    filters = await chosen_filters(request, session, viewer, dashboard)
    current = _page_number(request)
    total = await count_leads(session, filters.chosen, tz)
    pages = max(1, -(-total // PAGE_SIZE))
    if current > pages:
        raise BadInput("dashboard.leads.past_the_end", status=404, title="dashboard.not_found.title", pages=pages)
    shown = await _reveal(request, session, viewer, dashboard) if request.method == "POST" else None
    found = await lead_page(session, filters.chosen, tz, (current - 1) * PAGE_SIZE, PAGE_SIZE)
    path = PAGES["leads"]

    def line(row: LeadRow) -> dict[str, object]:
        open_ = row.id == shown
        occupation = f"export.occupation.{row.occupation}"
        return {
            "id": row.id,
            "saved": row.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "name": row.name if open_ else masked_name(row.name),
            "phone": display_phone(row.phone) if open_ else masked_phone(row.phone),
            "occupation": t(occupation) if t.has(occupation) else row.occupation,
            "region": row.region,
            "status": t(f"interest.status.{row.status}"),
            "officer": row.officer or "",
            "source": row.source or "",
            "shown": open_,
        }

    def to_page(wanted: int) -> str | None:
        if not 1 <= wanted <= min(pages, LAST_PAGE):
            return None
        return _address(path, {**filters.given, "halaman": str(wanted)})

    return page(
        request,
        viewer,
        t,
        filters.period,
        "leads",
        "leads.html",
        rows=[line(row) for row in found],
        total=number(total, t),
        page_number=number(current, t),
        pages=number(pages, t),
        previous=to_page(current - 1),
        next=to_page(current + 1),
        beyond=pages > LAST_PAGE and current == LAST_PAGE,
        here=_address(path, {**filters.given, "halaman": str(current)}),
        download=_address(f"{path}/unduh", filters.given),
        chosen=filters.given,
        regions=[(region, region) for region in filters.regions],
        occupations=[(o.value, t(f"export.occupation.{o}")) for o in Occupation],
        statuses=[(s.value, t(f"interest.status.{s}")) for s in LeadStatus],
        officers=[(str(officer_id), name) for officer_id, name in filters.officers],
    )
