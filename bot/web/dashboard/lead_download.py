"""The Prospek page's download: the leads its filters choose, as the file every export writes (CSV or Excel,
bot/services/reports.py: the same columns, formula-safe cells, `;` between CSV columns unless asked otherwise),
streamed to the browser while it is written, and in the audit log like every export.

A POST with the CSRF token (checked by signed_in), not a GET: handing out a list of names and numbers is an
action, recorded, and an address that does it could be fetched by a link preview, a prefetch or a browser's
history. The filters travel in the address, checked as the page checks them (an officer: her regions only); the
file's format and separator in the form.

The audit entry (action "export", via "dashboard", with the filters and the number of leads counted) is
committed before the first byte leaves: no list goes out unrecorded. Memory stays flat whatever the size: CSV is
sent chunk by chunk as the rows are read; Excel is written by XlsxWriter's constant-memory mode to a temporary
folder removed afterwards, and its zip is sent piece by piece while it is made, in a thread.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator
from typing import IO, cast
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.audit import Actor, record_event
from bot.services.dashboard_access import Viewer
from bot.services.exports import DELIMITERS, FORMATS, LeadLine, count_leads, stream_leads
from bot.services.reports import write_leads_csv, write_leads_xlsx
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.leads import chosen_filters
from bot.web.dashboard.rendering import DASHBOARD, STREAMING, BadInput

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Rows read between two turns of the event loop, as the chat's exporter (bot/workers/exporter.py) measured.
CHUNK = 500
PIECE = 64 * 1024  # bytes of the Excel file handed to the event loop at a time
BOM = "\ufeff"  # Excel reads a CSV file as UTF-8 only after it (as the chat's export)


@signed_in
async def download(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    tz = dashboard.settings.tz
    actor = Actor.of_contact(viewer.contact, viewer.role)
    form = await request.post()
    file_format, separator = str(form.get("format", "")), str(form.get("pemisah", "semicolon"))
    try:
        if file_format not in FORMATS or separator not in DELIMITERS:
            raise BadInput("dashboard.leads.bad_download", title="dashboard.leads.bad_title")
        filters = await chosen_filters(request, session, viewer, dashboard)
    except BadInput as error:  # a forged region among them: refused, and the refusal is in the audit log
        await record_event(
            session, actor, "export", dashboard.clock(), allowed=False, reason=error.key, via="dashboard"
        )
        raise
    rows = await count_leads(session, filters.chosen, tz)
    now = dashboard.clock()
    async with dashboard.sessions.begin() as audit:  # committed before anything is sent
        chosen = filters.chosen.to_json()
        await record_event(audit, actor, "export", now, rows=rows, format=file_format, filters=chosen, via="dashboard")
    name = f"{t('export.file_stem')}-{now.astimezone(tz).date().isoformat()}.{file_format}"
    response = web.StreamResponse(
        headers={"Content-Type": CONTENT_TYPES[file_format], "Content-Disposition": f'attachment; filename="{name}"'}
    )
    await response.prepare(request)
    request[STREAMING] = True
    chunks = stream_leads(session, filters.chosen, tz, chunk=CHUNK)
    if file_format == "xlsx":
        await _send_xlsx(chunks, t, tz, response)
    else:
        await _send_csv(chunks, t, tz, response, DELIMITERS[separator])
    await response.write_eof()
    return response


async def _send_csv(
    chunks: AsyncIterator[list[LeadLine]], t: Translator, tz: ZoneInfo, response: web.StreamResponse, delimiter: str
) -> None:
    written = io.StringIO(newline="")  # the CSV writer's own line ends, untouched
    written.write(BOM)

    async def send() -> None:
        text = written.getvalue()
        written.seek(0)
        written.truncate()
        if text:
            await response.write(text.encode())

    async def sent_as_written() -> AsyncIterator[list[LeadLine]]:
        # The writer takes the next chunk only once the last is written: what it wrote leaves first.
        async for chunk in chunks:
            await send()
            yield chunk

    await write_leads_csv(sent_as_written(), t, tz, written, delimiter=delimiter)
    await send()


class _Pipe(io.RawIOBase):
    """Where the workbook's zip is written, from the thread that closes the workbook: every PIECE bytes go to the
    event loop, which sends them, and the thread waits for that, so the zip is made at the browser's pace."""

    def __init__(self, response: web.StreamResponse, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.response, self.loop = response, loop
        self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # (bytes-like, as the zip writes it)
        self.pending += data
        if len(self.pending) >= PIECE:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # in the closing thread, as meant
                self._send()
            else:
                # On the loop's own thread (a workbook closed after a failure) waiting would stop the loop.
                raise OSError("the workbook is sent only from the thread that closes it")
        return len(data)

    def _send(self) -> None:
        piece = bytes(self.pending)
        self.pending.clear()
        asyncio.run_coroutine_threadsafe(self.response.write(piece), self.loop).result()


async def _send_xlsx(
    chunks: AsyncIterator[list[LeadLine]], t: Translator, tz: ZoneInfo, response: web.StreamResponse
) -> None:
    pipe = _Pipe(response, asyncio.get_running_loop())
    # XlsxWriter's temporary files hold the rows: in a folder of our own, removed however the download ends.
    with tempfile.TemporaryDirectory(prefix="bpu-download-") as folder:
        await write_leads_xlsx(chunks, t, tz, cast(IO[bytes], pipe), folder=folder)
    await response.write(bytes(pipe.pending))
