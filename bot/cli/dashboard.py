"""`bpu-bot dashboard`: a one-time sign-in link for someone (`link --as TELEGRAM_USER_ID`), and the dashboard
served on its own (`serve`), beside the bot on PostgreSQL or on an office PC with a copy of the SQLite file."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from bot.cli.common import CommandError, command_line_actor, database
from bot.config import DASHBOARD_LOGIN_PATH, DASHBOARD_PATH, ConfigError, Settings


def add_parser(commands: Any) -> None:
    dashboard = commands.add_parser("dashboard", help="the staff dashboard in the browser: sign-in links, serving it")
    dashboard_commands = dashboard.add_subparsers(dest="dashboard_command", required=True)
    link = dashboard_commands.add_parser(
        "link", help="a link that signs this officer, staff member or admin in once, within 15 minutes"
    )
    link.add_argument(
        "--as", dest="telegram_id", required=True, metavar="TELEGRAM_USER_ID", help="their Telegram user id (/id)"
    )
    serve = dashboard_commands.add_parser("serve", help="serve the dashboard alone at /dasbor (WEB_HOST, WEB_PORT)")
    serve.add_argument("--host", help="the address to listen on (default: WEB_HOST)")
    serve.add_argument("--port", type=int, help="the port to listen on (default: WEB_PORT)")


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.dashboard_command == "link":
        print(asyncio.run(_link(settings, args.telegram_id)))
    else:
        asyncio.run(_serve(settings, args.host or settings.web_host, args.port or settings.web_port))


async def _link(settings: Settings, telegram_id: str) -> str:
    from bot.models import Role, utcnow
    from bot.services.audit import Actor, record_event
    from bot.services.contacts import find_contact
    from bot.services.dashboard_access import LINK_LIFETIME, create_link
    from bot.services.officers import ensure_contact
    from bot.services.roles import role_of

    if not (telegram_id.isascii() and telegram_id.isdigit()):
        raise CommandError(f"{telegram_id!r} is not a Telegram user id (digits; they see theirs with /id)")
    now, subject = utcnow(), Actor.of_contact_id("telegram", telegram_id)
    async with database(settings) as sessions, sessions.begin() as session:
        contact = await find_contact(session, "telegram", telegram_id)
        if contact is None and telegram_id in settings.admin_telegram_ids:  # an admin by configuration, not yet seen
            contact = await ensure_contact(session, "telegram", telegram_id, settings.default_locale)
        role = role_of(contact, settings.admin_telegram_ids) if contact is not None else Role.WORKER
        allowed = role.includes(Role.OFFICER)
        await record_event(
            session, command_line_actor(), "dashboard", now, allowed=allowed, subject=subject, change="link", via="cli"
        )
        token = await create_link(session, contact, now) if allowed and contact is not None else None
    if token is None:
        raise CommandError(
            f"Telegram user {telegram_id} is not an officer, staff member or admin: only they may use the dashboard "
            "(see `bpu-bot roles list`)"
        )
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    link = f"{settings.dashboard_base}{DASHBOARD_LOGIN_PATH}{token}"
    return f"{link}\n(works once, within {minutes} minutes, for {subject} only)"


async def _serve(settings: Settings, host: str, port: int) -> None:
    from aiohttp import web

    from bot.content import load_content
    from bot.db import check_database, create_engine, session_factory
    from bot.i18n import Messages, load_catalogs
    from bot.models import utcnow
    from bot.web.dashboard.app import mount_dashboard
    from bot.web.dashboard.rendering import Dashboard

    content = load_content().with_regions(settings.regions)
    messages = Messages(content, load_catalogs())
    engine = create_engine(settings.database_url)
    runner = None
    try:
        await check_database(engine)
        served = web.Application()
        mount_dashboard(served, Dashboard(settings, session_factory(engine), messages, content, utcnow))

        async def to_dashboard(_request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{DASHBOARD_PATH}/")

        served.router.add_get("/", to_dashboard)
        runner = web.AppRunner(served, access_log=None)  # the access log would print sign-in tokens
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise ConfigError(f"{host}:{port} cannot be used to serve the dashboard: {error.strerror}") from None
        print(f"serving the dashboard on http://{host}:{port}{DASHBOARD_PATH}/ (Ctrl-C stops it)", flush=True)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await engine.dispose()
