"""Imports run one way, down: a module of a lower layer never imports one of a higher layer.

What holds today, checked over every import statement (function-level ones too): the foundations import only
foundations, the services only foundations and services, and the conversation modules (handlers/) never reach
the channels, the web server or the command line. One known exception is listed (KNOWN); the rooms of issue 19
will remove it and tighten the rules as the layout moves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Modules that depend on nothing of ours above them: settings, storage, content, texts, and small tools.
FOUNDATIONS = {
    "bot.config",
    "bot.db",
    "bot.models",
    "bot.content",
    "bot.phone",
    "bot.typed",
    "bot.logs",
    "bot.i18n",
    "bot.conversation",
    "bot.qr",
    "bot.pacing",
    "bot.background",
    "bot.leadership",
}
TOP = ("bot.channels", "bot.web", "bot.app", "bot.runtime", "bot.__main__", "bot.cli")
# The one arrow up that stands today, until the rooms move (issue 19): the texts' derived figures (the minimum
# package in rupiah) are computed by the calculator's rules, inside a function of bot/i18n.py.
KNOWN = {"bot/i18n.py imports bot.services.calculator"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def ours(name: str) -> bool:
    return name == "bot" or name.startswith(("bot.", "handlers"))


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of our own code in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] if ours(node.module) else []
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if ours(alias.name)]
    return found


def modules(*patterns: str) -> list[Path]:
    return sorted(path for pattern in patterns for path in ROOT.glob(pattern))


def is_foundation(name: str) -> bool:
    return name in FOUNDATIONS


def is_service(name: str) -> bool:
    return name == "bot.services" or name.startswith("bot.services.")


def is_top(name: str) -> bool:
    return name.startswith(TOP) or name.endswith("_cli")


def wrong_arrows(paths: list[Path], allowed, root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in paths
        for line, name in imports(path)
        if not allowed(name) and f"{path.relative_to(root)} imports {name}" not in KNOWN
    ]


def test_the_foundations_import_only_foundations():
    paths = [path for path in modules("bot/*.py") if module_name(path) in FOUNDATIONS]
    assert len(paths) == len(FOUNDATIONS), "every foundation named above exists"
    assert wrong_arrows(paths, is_foundation) == []


def test_the_services_import_only_foundations_and_services():
    assert wrong_arrows(modules("bot/services/*.py"), lambda n: is_foundation(n) or is_service(n)) == []


def test_the_conversation_modules_never_reach_the_channels_the_web_server_or_the_command_line():
    assert wrong_arrows(modules("handlers/*.py"), lambda n: not is_top(n)) == []


@pytest.mark.parametrize(
    ("source", "arrow"),
    [
        ("from bot.dispatch import Turn\n", "bot.dispatch"),
        ("def f():\n    import bot.channels.telegram\n", "bot.channels.telegram"),
    ],
)
def test_an_arrow_back_up_is_caught_even_inside_a_function(tmp_path, source, arrow):
    probe = tmp_path / "probe.py"  # a service module that reaches up
    probe.write_text(source, encoding="utf-8")

    wrong = wrong_arrows([probe], lambda n: is_foundation(n) or is_service(n), root=tmp_path)

    assert [w.split(" imports ")[1] for w in wrong] == [arrow]
