"""What the command-line commands share: one-line errors, the migrated database for one command, a plain
table, a progress bar, files that appear only once fully written, and asking before ending someone's work."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import Sessions, check_database, create_engine, session_factory
from bot.models import Role, utcnow
from bot.phone import normalise_phone
from bot.services.audit import Actor, record_event
from bot.services.exports import DELIMITERS

if TYPE_CHECKING:
    from bot.services.officers import Handover

BAR_WIDTH = 10
CONFIRMING = ("y", "ya", "yes")


class CommandError(Exception):
    """A command that cannot be done as typed; said in one line (exit code 2), nothing written."""


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's own mistakes (a missing flag, an unknown subcommand) in the CLI's one-line form."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"bpu-bot: error: {message} (see `{parser.prog} --help`)\n")

    parser.error = error  # type: ignore[method-assign]  # on purpose: this parser's own error(), not argparse's
    return parser


def command_line_actor() -> Actor:
    """The system user who ran the command: whoever has the database may do anything, so as an admin."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's user with no name
        user = "unknown"
    return Actor(f"cli:{user}", Role.ADMIN)


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Sessions]:
    """Sessions on the configured database, checked to be migrated first (DatabaseNotReady otherwise)."""
    engine = create_engine(settings.database_url)
    try:
        await check_database(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def add_bom_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bom",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="CSV: start with a UTF-8 byte-order mark, so Excel reads the file right (default: yes)",
    )


def add_delimiter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delimiter",
        choices=tuple(DELIMITERS),
        default="semicolon",
        help="CSV: what separates the columns; Excel set to Indonesian needs a semicolon (default: semicolon)",
    )


# How long staff keep a file with names and phone numbers (docs/staff.md): the bot's own periods do not reach it.
FILE_KEEP_DAYS = 30


def remind_to_delete(target: Path) -> None:
    """Printed after every file of names and numbers is written: it is the staff's to delete."""
    print(
        f"{target} holds names and phone numbers: keep it only while you work on it, {FILE_KEEP_DAYS} days at most, "
        'then delete it (docs/staff.md, "Files you export")',
        file=sys.stderr,
    )


async def record_file_export(sessions: async_sessionmaker[AsyncSession], rows: int, **detail: Any) -> None:
    """Called before the file is renamed into place: no file with names and phone numbers exists unrecorded."""
    async with sessions.begin() as session:
        await record_event(session, command_line_actor(), "export", utcnow(), rows=rows, **detail)


def bar(share: float) -> str:
    """[####------]  40%"""
    filled = round(share * BAR_WIDTH)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {round(share * 100):3d}%"


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def replaced_when_written(target: Path, encoding: str | None) -> Iterator[IO]:
    """A temporary file beside `target` (text in `encoding`, or binary for None), renamed over it once fully
    written: never half a file.

    On any error the temporary file is removed and `target` is left as it was. The file is readable by its
    owner only (reports and lead lists hold names and phone numbers).
    """
    if target.is_dir():
        raise CommandError(f"--output {target} is a folder; name a file, e.g. {target / ('file' + target.suffix)}")
    try:
        file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (renamed on success, removed on error)
            "w" if encoding else "wb",
            encoding=encoding,
            newline="" if encoding else None,  # the csv module writes RFC 4180's CRLF itself
            dir=target.parent,
            prefix=f".{target.name}.",
            suffix=".tmp",
            delete=False,
        )
    except OSError as error:
        raise CommandError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(file.name, target)
    except OSError as error:
        _remove(file.name)
        raise CommandError(f"cannot write {target}: {error.strerror or error}") from None
    except BaseException:
        _remove(file.name)
        raise


def officer_id(value: str) -> int:
    """An officer's ID as typed on the command line, or a one-line error."""
    if not value.isdigit():
        raise CommandError(f"officer ID {value!r} is not a number (see `bpu-bot officers list`)")
    return int(value)


def typed_phone(value: str) -> str:
    """An Indonesian mobile number as typed (08..., +62...), as E.164, or a one-line error."""
    phone = normalise_phone(value)
    if phone is None:
        raise CommandError(f"--phone {value!r} is not an Indonesian mobile number (such as 0812... or +62812...)")
    return phone


def add_yes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do it without asking (for scripts)")


def describe_handover(work: Sequence[Handover]) -> str:
    """'Mukomuko: 3 leads, 1 task -> 2 colleagues; Kaur: 1 lead -> the pool', or that there is nothing to move."""
    parts = [
        f"{line.region}: {line.leads} lead{'s' * (line.leads != 1)}, {line.tasks} open task{'s' * (line.tasks != 1)}"
        + (f" -> {line.colleagues} colleague{'s' * (line.colleagues != 1)}" if line.colleagues else " -> the pool")
        for line in work
        if line.leads or line.tasks
    ]
    return "; ".join(parts) if parts else "no open leads or tasks to hand over"


def confirm(change: str, work: Sequence[Handover], yes: bool) -> None:
    """Ask on the terminal before a change that ends someone's work, saying where that work goes; `--yes` is
    the answer for scripts. Only y, ya or yes go ahead; without a terminal nothing is asked, nor done."""
    question = f"{change}; their work moves on: {describe_handover(work)}"
    if yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"{question}. Confirm in a terminal, or add --yes")
    print(f"{question}.\nGo ahead? [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().casefold() not in CONFIRMING:
        raise CommandError("not confirmed: nothing changed")
