"""Imports run one way, down: no module imports one of a room above its own, and SQL is written in services only.

The rooms, from the bottom (docs/architecture.md says why each exists):

    foundations   bot/config, db, models, content, phone, typed, logs, i18n, contributions, qr, card
    services      bot/services/    the domain, the only place queries are built
    conversation  bot/conversation/  events in and out, the dispatcher, reading typed text
    handlers      handlers/        one module per conversation, written against the conversation's types
    workers       bot/workers/     ticker, broadcast engine, exporter, command menus, pacing, leadership
    app           bot/app.py       the composition: settings, the dispatcher, the handlers' router
    channels      bot/channels/    Telegram, WhatsApp, the terminal
    dashboard     bot/web/dashboard/  the staff dashboard's pages: services and foundations only, no SQL
    web           bot/web/         the web server: health, webhooks, and the dashboard mounted on it
    cli           bot/cli/, bot/__main__.py   the commands, `bpu-bot run` among them

Every import statement counts, function-level ones too. Handlers and workers are side by side: neither
imports the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOUNDATIONS = {
    "bot.config",
    "bot.db",
    "bot.models",
    "bot.content",
    "bot.phone",
    "bot.typed",
    "bot.logs",
    "bot.i18n",
    "bot.contributions",
    "bot.qr",
    "bot.card",
}
# What each room may import besides itself and the foundations.
MAY_IMPORT = {
    "services": set(),
    "conversation": {"services"},
    "handlers": {"services", "conversation"},
    "workers": {"services", "conversation"},
    "app": {"services", "conversation", "handlers"},
    "channels": {"services", "conversation", "workers", "app"},
    # The dashboard shows figures the services compute: it needs neither conversations nor channels.
    "dashboard": {"services"},
    "web": {"services", "conversation", "workers", "app", "channels", "dashboard"},
    "cli": {"services", "conversation", "handlers", "workers", "app", "channels", "web", "dashboard"},
}
# Query building (select, insert, text...) and the ORM's internals belong to the services and the database
# foundation; above them only exceptions and the session's type are named.
SQL_ROOMS = {"services", "foundations"}
SQLALCHEMY_ABOVE = {"sqlalchemy.exc", "sqlalchemy.ext.asyncio"}


def module_name(path: Path, root: Path = ROOT) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def room_of(name: str) -> str:
    """The room a module of ours lives in."""
    if name in FOUNDATIONS or name == "bot":
        return "foundations"
    if name in ("bot.app", "bot.__main__"):
        return "app" if name == "bot.app" else "cli"
    if name == "bot.web.dashboard" or name.startswith("bot.web.dashboard."):
        return "dashboard"
    if name == "handlers" or name.startswith("handlers."):
        return "handlers"
    parts = name.split(".")
    if parts[0] == "bot" and len(parts) > 1 and parts[1] in MAY_IMPORT:
        return parts[1]
    raise AssertionError(f"{name} is in no room: add it to one (and to docs/architecture.md)")


def ours(name: str) -> bool:
    return name == "bot" or name.startswith(("bot.", "handlers"))


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, ours and third parties'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def sources(root: Path = ROOT) -> list[Path]:
    return sorted([*root.glob("bot/**/*.py"), *root.glob("handlers/**/*.py")])


def wrong_arrows(paths: list[Path], root: Path = ROOT) -> list[str]:
    wrong = []
    for path in paths:
        room = room_of(module_name(path, root))
        allowed = {room, "foundations", *MAY_IMPORT.get(room, set())}
        for line, name in imports(path):
            if ours(name) and room_of(name) not in allowed:
                wrong.append(f"{path.relative_to(root)}:{line} ({room}) imports {name} ({room_of(name)})")
    return wrong


def sql_outside_services(paths: list[Path], root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in paths
        if room_of(module_name(path, root)) not in SQL_ROOMS
        for line, name in imports(path)
        if name.split(".")[0] == "sqlalchemy" and name not in SQLALCHEMY_ABOVE
    ]


def test_every_module_is_in_a_room_and_every_foundation_exists():
    assert {module_name(path) for path in sources() if room_of(module_name(path)) == "foundations"} == {
        "bot",
        *FOUNDATIONS,
    }


def test_imports_run_down_the_rooms():
    assert wrong_arrows(sources()) == []


def test_queries_are_built_only_in_the_services():
    assert sql_outside_services(sources()) == []


def test_every_module_says_what_it_is_for_in_one_line():
    missing = [
        str(path.relative_to(ROOT))
        for path in sources()
        if not (doc := ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))) or not doc.splitlines()[0]
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("module", "source", "wrong"),
    [
        ("bot/services/probe.py", "from bot.conversation.dispatcher import Turn\n", "bot.conversation.dispatcher"),
        ("bot/services/probe.py", "def f():\n    import bot.channels.telegram\n", "bot.channels.telegram"),
        ("handlers/probe.py", "from bot.workers.broadcaster import Broadcaster\n", "bot.workers.broadcaster"),
        ("bot/workers/probe.py", "from handlers.onboarding import main_menu\n", "handlers.onboarding"),
        ("bot/conversation/probe.py", "from handlers import build_router\n", "handlers"),
        ("bot/web/dashboard/probe.py", "from bot.app import create_app\n", "bot.app"),
        ("bot/web/dashboard/probe.py", "from bot.web.server import build_web_app\n", "bot.web.server"),
    ],
)
def test_an_arrow_back_up_is_caught_even_inside_a_function(tmp_path, module, source, wrong):
    probe = tmp_path / module
    probe.parent.mkdir(parents=True)
    probe.write_text(source, encoding="utf-8")

    assert [w.split(" imports ")[1].split(" ")[0] for w in wrong_arrows([probe], root=tmp_path)] == [wrong]


def test_a_query_built_in_a_handler_is_caught(tmp_path):
    probe = tmp_path / "handlers" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("from sqlalchemy import select\nfrom sqlalchemy.exc import IntegrityError\n", encoding="utf-8")

    assert sql_outside_services([probe], root=tmp_path) == ["handlers/probe.py:1 imports sqlalchemy"]
