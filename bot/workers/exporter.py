"""The exporter: lead lists asked for in the chat (/ekspor), written in the background and sent as a document.

An export is a row (see models.ExportStatus). It is claimed, written to a temporary file that is deleted
afterwards, put in the audit log and marked `sending` in one transaction, sent, and recorded. A process that
dies while writing leaves it `running`, and the next start writes it again (nothing had left); one that dies
while sending leaves it `sending`, and the next start marks it `unknown`: the file is never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from bot.conversation.dispatcher import Dispatcher
from bot.conversation.events import Reply
from bot.i18n import Translator
from bot.models import Contact, Export, ExportStatus, Role
from bot.services.audit import Actor, record_event
from bot.services.exports import claim_export, filters_of, settle_export, stream_leads
from bot.services.reports import write_leads_csv, write_leads_xlsx
from bot.workers.background import Worker
from bot.workers.delivery import DeliveryUnknown, RetryLater, Sender, Undeliverable, Unreachable

log = logging.getLogger(__name__)

IDLE_SECONDS = 30.0  # how often an idle exporter looks for work it was not woken for (another process's)
MEGABYTE = 1024 * 1024
# Rows written between two turns of the event loop. Measured writing 100,000 rows with the loop's lag sampled:
# 2,000 rows held answers to workers chatting meanwhile back by up to 320 ms (Excel) and 50 ms (CSV); 500 rows
# by up to 70 ms and 10 ms, for the same total time.
CHUNK = 500


class Exporter(Worker):
    idle_seconds = IDLE_SECONDS

    def __init__(self, dispatcher: Dispatcher, senders: dict[str, Sender]):
        super().__init__()
        self.dispatcher = dispatcher
        self.senders = senders

    async def step(self) -> bool:
        """Write and send the oldest waiting export; False when none was waiting."""
        sessions = self.dispatcher.sessions
        async with sessions.begin() as session:
            export = await claim_export(session)
            if export is None:
                return False
            contact = await session.get_one(Contact, export.requested_by)  # (an export goes with its contact)
        t = self.dispatcher.messages[export.locale]
        sender = self.senders.get(contact.channel)
        if sender is None:  # asked on a channel this process does not serve: nothing can be sent
            await self._settle(export, ExportStatus.FAILED, None, "no_channel")
            return True
        try:
            with tempfile.TemporaryDirectory(prefix="bpu-export-") as folder:
                await self._write_and_send(export, contact, sender, t, Path(folder))
        except Exception:
            log.exception("export %s failed", export.id)
            await self._settle(export, ExportStatus.FAILED, None, "error")
            await self._tell(sender, contact, t("export.failed", id=export.id), export.locale)
        return True

    async def _write_and_send(
        self, export: Export, contact: Contact, sender: Sender, t: Translator, folder: Path
    ) -> None:
        tz = self.dispatcher.settings.tz
        local_day = self.dispatcher.clock().astimezone(tz).date().isoformat()
        path = folder / f"{t('export.file_stem')}-{local_day}-{export.id}.{export.format}"
        chosen = filters_of(export)
        async with self.dispatcher.sessions() as session:
            chunks = stream_leads(session, chosen, tz, chunk=CHUNK)
            if export.format == "xlsx":
                with path.open("wb") as file:
                    rows = await write_leads_xlsx(chunks, t, tz, file)
            else:
                with path.open("w", encoding="utf-8-sig", newline="") as file:  # the BOM Excel needs
                    rows = await write_leads_csv(chunks, t, tz, file)
        size = path.stat().st_size
        if size > sender.document_limit:
            await self._settle(export, ExportStatus.FAILED, rows, "too_large")
            limit = sender.document_limit // MEGABYTE
            platform = t(f"broadcast.channel.{contact.channel}")
            text = t("export.too_large", size=round(size / MEGABYTE), limit=limit, platform=platform)
            await self._tell(sender, contact, text, export.locale)
            return
        # In the audit log, and `sending`, before the file leaves: no lead list goes out unrecorded, and a
        # restart never sends it a second time.
        async with self.dispatcher.sessions.begin() as session:
            await settle_export(session, export.id, ExportStatus.SENDING, self.dispatcher.clock(), rows, None)
            actor = Actor(export.actor, Role(export.actor_role))
            await record_event(
                session,
                actor,
                "export",
                self.dispatcher.clock(),
                rows=rows,
                format=export.format,
                filters=export.filters,
                via="chat",
                export=export.id,
            )
        caption = t("export.done", rows=rows, format=t(f"export.format.{export.format}"))
        reply = Reply(caption, document=(path.name, path.read_bytes()), locale=export.locale)
        try:
            await sender.send(contact.external_id, reply)
        except DeliveryUnknown:
            await self._settle(export, ExportStatus.UNKNOWN, rows, "timeout")
        except RetryLater as error:
            # Nothing left this machine (or the platform refused it for now): written and sent again later.
            await self._settle(export, ExportStatus.PENDING, None, "retry")
            await asyncio.sleep(error.seconds)
        except (Unreachable, Undeliverable) as error:
            log.warning("export %s could not be sent: %s", export.id, error)
            await self._settle(export, ExportStatus.FAILED, rows, "refused")
        else:
            await self._settle(export, ExportStatus.DONE, rows, None)

    async def _settle(self, export: Export, status: ExportStatus, rows: int | None, outcome: str | None) -> None:
        async with self.dispatcher.sessions.begin() as session:
            await settle_export(session, export.id, status, self.dispatcher.clock(), rows, outcome)

    async def _tell(self, sender: Sender, contact: Contact, text: str, locale: str) -> None:
        try:
            await sender.send(contact.external_id, Reply(text, locale=locale))
        except Exception:
            log.warning("could not tell the requester about export trouble")
