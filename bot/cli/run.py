"""`bpu-bot run`: every configured channel and the background work, in one event loop per process.

Telegram comes by long polling through PTB's Application, or in webhook mode (TELEGRAM_WEBHOOK_URL) through
the web server (bot/web/server.py), which also serves WhatsApp's webhook. The background work is the same for both,
and sends through each channel's sender: the follow-up ticker (APScheduler's AsyncIOScheduler, every
TICK_SECONDS, woken at once when a conversation queued a message), the broadcast engine, the exporter and
the processing of stored webhook events (asyncio tasks, bot/workers/background.py). None of them holds business
state: what is due, being sent or stored lives in rows.

On SQLite the one process does everything. On PostgreSQL every process serves the webhooks, and one of them,
the leader, does the background work (and the long polling, which Telegram allows one client at a time);
bot/workers/leadership.py hands it over when the leader dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta
from functools import partial

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError

from bot.app import BotApp
from bot.config import DASHBOARD_PATH, WHATSAPP_PATH, ConfigError
from bot.db import notify
from bot.services.deliveries import give_up_interrupted_deliveries
from bot.services.exports import recover_interrupted_exports
from bot.services.followups import give_up_interrupted_sends
from bot.services.outbox import give_up_interrupted_replies
from bot.services.updates import forget_processed_updates
from bot.workers.background import Worker
from bot.workers.broadcaster import Broadcaster
from bot.workers.delivery import Sender
from bot.workers.exporter import Exporter
from bot.workers.leadership import WAKE_CHANNEL, Leadership
from bot.workers.menus import CommandMenus
from bot.workers.pacing import Pacer
from bot.workers.retention import purge_if_due
from bot.workers.ticker import FollowUpTicker

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 6 * 3600
# How often the leader looks whether the day's retention purge is due (from RETENTION_TIME on, once a day).
RETENTION_LOOK_SECONDS = 600
ALLOWED_UPDATES = ["message", "callback_query"]


class Runtime:
    """Build with the app (and, in tests, the transports of the platform fakes); `start()`, then `stop()`."""

    def __init__(self, app: BotApp, telegram_request=None, whatsapp_transport=None):
        self.app = app
        settings = app.settings
        senders: dict[str, Sender] = {}
        broadcast_senders: dict[str, Sender] = {}
        pacers: dict[str, Pacer] = {}
        self.application = None
        self.broadcast_bot = None
        self.whatsapp = None
        self.graph = None
        self.menus: CommandMenus | None = None
        if settings.telegram_enabled:
            from bot.channels.telegram.channel import build_application
            from bot.channels.telegram.menus import TelegramMenus
            from bot.channels.telegram.sending import TelegramSender, broadcast_bot

            self.application = build_application(app, telegram_request)
            self.broadcast_bot = broadcast_bot(app, telegram_request)
            senders["telegram"] = TelegramSender(self.application.bot, app.messages)
            broadcast_senders["telegram"] = TelegramSender(self.broadcast_bot, app.messages, settings.broadcast_paid)
            pacers["telegram"] = Pacer(settings.broadcast_rate)
            self.menus = CommandMenus(app.dispatcher, TelegramMenus(self.application.bot, app.messages))
        if settings.whatsapp_enabled:
            from bot.channels.whatsapp.sending import GraphClient, WhatsAppSender
            from bot.channels.whatsapp.webhook import WhatsAppChannel

            # One pace for the number, whatever sends: replies, follow-ups and broadcasts share its limit.
            pacer = Pacer(settings.whatsapp_rate)
            self.graph = GraphClient(settings, whatsapp_transport)
            clock = app.dispatcher.clock
            sender = senders["whatsapp"] = WhatsAppSender(self.graph, app.messages, settings, clock, pacer)
            broadcast_senders["whatsapp"] = WhatsAppSender(self.graph, app.messages, settings, clock)
            pacers["whatsapp"] = pacer
            self.whatsapp = WhatsAppChannel(app, sender)
        self.ticker = FollowUpTicker(app.dispatcher, senders)
        self.exporter = Exporter(app.dispatcher, senders)
        self.broadcaster = Broadcaster(app.dispatcher, broadcast_senders, pacers)
        self.workers: list[Worker] = [
            self.broadcaster,
            self.exporter,
            *([self.whatsapp] if self.whatsapp else []),
            *([self.menus] if self.menus else []),
        ]
        self._wakeable: dict[str, Worker] = {"exporter": self.exporter}
        if self.menus is not None:
            self._wakeable["menus"] = self.menus
        if self.whatsapp is not None:
            self._wakeable["whatsapp"] = self.whatsapp
            self.whatsapp.wake_worker = partial(self.wake, "whatsapp")
        self.leading = False
        self.leadership: Leadership | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ticking: set[asyncio.Task] = set()
        self._purging: set[asyncio.Task] = set()
        self._notifying: set[asyncio.Task] = set()
        self._web: web.AppRunner | None = None
        # Missed ticks are not caught up (coalesce): one tick sends everything that is due.
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        app.dispatcher.wakers["exporter"] = partial(self.wake, "exporter")
        app.dispatcher.wakers["ticker"] = partial(self.wake, "ticker")
        app.dispatcher.wakers["menus"] = partial(self.wake, "menus")

    async def start(self) -> None:
        """Serve the channels; lead the background work now (SQLite), or when this process gets the lead."""
        settings = self.app.settings
        if self.application is not None:
            from bot.channels.telegram.channel import WEBHOOK_CONNECTIONS
            from bot.channels.telegram.menus import set_commands

            await self.application.initialize()
            await set_commands(self.application, self.app)
            assert self.broadcast_bot is not None  # made with the application
            await self.broadcast_bot.initialize()
            await self.application.start()
        if settings.web_enabled:
            await self._serve_web()
        if self.application is not None and settings.telegram_webhook_url is not None:
            # Once listening: Telegram posts what is waiting right away. Every process sets the same webhook.
            await self.application.bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=WEBHOOK_CONNECTIONS,
            )
        if settings.postgresql:
            self.leadership = Leadership(settings.database_url, self.lead, self.step_down, self.wake_here)
            self.leadership.start()
        else:
            await self.lead()

    async def _serve_web(self) -> None:
        from bot.web.server import build_web_app

        settings = self.app.settings
        served = build_web_app(self.app, self.whatsapp, self.application, lambda: self.leading)
        self._web = web.AppRunner(served, access_log=None)
        await self._web.setup()
        try:
            await web.TCPSite(self._web, settings.web_host, settings.web_port).start()
        except OSError as error:
            where = f"{settings.web_host}:{settings.web_port}"
            raise ConfigError(f"WEB_HOST/WEB_PORT {where} cannot be used: {error.strerror}") from None
        where = f"http://{settings.web_host}:{settings.web_port}"
        if self.whatsapp is not None:
            log.info("serving the WhatsApp webhook on %s%s", where, WHATSAPP_PATH)
        if settings.telegram_webhook_url is not None:
            log.info("serving Telegram by webhook on %s%s", where, settings.telegram_webhook_path)
        log.info(
            "serving the staff dashboard on %s%s/ (links from /dasbor point to %s)",
            where,
            DASHBOARD_PATH,
            settings.dashboard_base,
        )

    async def lead(self) -> None:
        """Take up the background work: first what a crash (of this process or the last leader) left half done."""
        self.leading = True  # from here on, step_down() undoes whatever was started
        await self.recover()
        settings = self.app.settings
        if self.application is not None and settings.telegram_webhook_url is None:
            assert self.application.updater is not None  # build_application keeps PTB's updater
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            log.info("serving Telegram through %s", settings.telegram_base_url.split("/bot")[0])
        self._tasks = [worker.start() for worker in self.workers]
        first = datetime.now(UTC) + timedelta(seconds=settings.first_tick_seconds)
        self.scheduler.add_job(self.tick, "interval", seconds=settings.tick_seconds, next_run_time=first, id="tick")
        self.scheduler.add_job(self.forget_old_updates, "interval", seconds=HOUSEKEEPING_SECONDS, id="housekeeping")
        self.scheduler.add_job(
            self.purge_if_due, "interval", seconds=RETENTION_LOOK_SECONDS, next_run_time=first, id="retention"
        )
        if not self.scheduler.running:
            self.scheduler.start()

    async def step_down(self) -> None:
        """Stop the background work, letting what is in hand finish: the broadcast batch is sent and recorded,
        a tick in the middle of sending finishes (a normal stop leaves nothing `unknown`); an export being
        written is dropped and written again by the next leader."""
        if not self.leading:
            return
        self.leading = False
        # Removing the jobs, not shutting the scheduler down: that would cancel a tick in flight.
        self.scheduler.remove_all_jobs()
        await asyncio.gather(*self._ticking, return_exceptions=True)
        for purging in self._purging:  # its batch in hand rolls back; the next leader carries on the same day
            purging.cancel()
        await asyncio.gather(*self._purging, return_exceptions=True)
        updater = self.application.updater if self.application is not None else None
        if updater is not None and updater.running:
            await updater.stop()
        for worker in self.workers:
            worker.stop()
            if worker is self.exporter:
                self._tasks[self.workers.index(worker)].cancel()
        for outcome in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # the database went away mid-batch: the next leader recovers it
                log.error("background work ended with %s", type(outcome).__name__)
        self._tasks = []

    def wake(self, worker: str) -> None:
        """Work was queued for a background worker: wake it here (SQLite, or this process leads), else the leader."""
        if self.leadership is None or self.leadership.leading:
            self.wake_here(worker)
        else:
            task = asyncio.get_running_loop().create_task(self._wake_leader(worker))
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)

    def wake_here(self, worker: str) -> None:
        if worker == "ticker":
            self.wake_ticker()
        elif (target := self._wakeable.get(worker)) is not None:
            target.wake()

    async def _wake_leader(self, worker: str) -> None:
        try:
            await notify(self.app.engine, WAKE_CHANNEL, worker)
        except SQLAlchemyError as error:  # the leader finds the work at its next look anyway
            log.warning("could not wake the leader for %s: %s", worker, type(error).__name__)

    async def recover(self) -> None:
        """What a crash left half done: messages that may have left are `unknown` (never resent), lead lists
        being written are written again."""
        async with self.app.dispatcher.sessions.begin() as session:
            interrupted = await give_up_interrupted_sends(session)
            interrupted += await give_up_interrupted_deliveries(session)
            replies = await give_up_interrupted_replies(session)
            rewritten, unsure = await recover_interrupted_exports(session)
        if replies:
            log.warning(
                "%d replies were being sent when the bot (or the last leader) stopped: dropped, not resent", replies
            )
        if interrupted + unsure:
            log.warning(
                "%d messages and %d lead lists were being sent when the bot (or the last leader) stopped: "
                "marked unknown, not resent",
                interrupted,
                unsure,
            )
        if rewritten:
            log.info("%d lead lists were being written when the bot stopped: written again", rewritten)

    async def tick(self) -> None:
        task = asyncio.current_task()
        assert task is not None  # the scheduler runs each tick as a task
        self._ticking.add(task)
        try:
            await self.ticker.tick()
        finally:
            self._ticking.discard(task)

    def wake_ticker(self) -> None:
        """An officer's answer should reach the worker now, not at the next tick. A one-off run beside the
        repeating one: claims are atomic, so the two never send a row twice."""
        if self.leading and self.scheduler.running:
            self.scheduler.add_job(self.tick, "date", run_date=datetime.now(UTC))

    async def purge_if_due(self) -> None:
        task = asyncio.current_task()
        assert task is not None  # the scheduler runs each job as a task
        self._purging.add(task)
        try:
            settings = self.app.settings
            await purge_if_due(
                self.app.dispatcher.sessions, settings.retention, self.app.dispatcher.clock(), settings.tz
            )
        except asyncio.CancelledError:
            # Only step_down cancels a purge (the lead lost, or the bot stopping): its batch in hand rolled back and
            # the next leader carries on the same day. Ended here, or the scheduler logs it as a job that failed.
            task.uncancel()
            log.info("the retention purge stopped: this process no longer leads the background work")
        finally:
            self._purging.discard(task)

    async def forget_old_updates(self) -> None:
        async with self.app.dispatcher.sessions.begin() as session:
            forgotten = await forget_processed_updates(session, self.app.dispatcher.clock())
        log.info("forgot %d processed update ids past the redelivery window", forgotten)

    async def stop(self) -> None:
        """Stop taking updates, then the background work (see step_down), then let go of the lead."""
        if self.application is not None and self.application.running:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            await self.application.stop()
        if self._web is not None:
            await self._web.cleanup()
        if self.leadership is not None:
            await self.leadership.close()  # steps down first when leading
        await self.step_down()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._notifying):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.application is not None:
            await self.application.shutdown()
            assert self.broadcast_bot is not None  # made with the application
            await self.broadcast_bot.shutdown()
        if self.graph is not None:
            await self.graph.close()
        await self.app.close()

    async def run_until_stopped(self) -> None:
        """Serve until SIGTERM (a service manager) or SIGINT (Ctrl-C)."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await self.start()
            await stopping.wait()
            log.info("stopping")
        finally:
            await self.stop()
