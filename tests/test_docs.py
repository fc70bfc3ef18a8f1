"""The docs say only what is true: README.md and docs/*.md, read the way a new engineer reads them.

- every `bpu-bot ...` command they show (in code blocks and in inline code) exists, as the real argparse parser
  of `bot.cli.main` builds it, and accepts every `--option` shown after it;
- every `make <target>` names a target of the Makefile, every `python -m <module>` of this repository (bench.*,
  tests.*, bot.*) names a file that exists;
- every relative link points to a file that exists, and every `#anchor` to a heading of that file;
- the README stays a front door: under 200 lines.

Each failure names the document and the line, e.g. `docs/staff.md:42: ...`.
"""

from __future__ import annotations

import argparse
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli.main import parser as build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 200  # the README has fewer lines than this


def documents() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def shown(path: Path) -> str:
    """How a failure names a document: its path from the repository's root."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------ reading markdown

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# A code span: a run of backticks, then anything up to the same run, within one paragraph (no blank line).
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Snippet:
    """A piece of code in a document: one line of a code block, or one inline code span."""

    line: int  # where it starts, 1-based
    text: str  # an inline span's line breaks become spaces; `\|` in a table cell becomes `|`
    block: bool  # a code block's line (True) or inline code (False)
    start: int = 0  # inline code: where the span starts and ends in `Markdown.prose`
    end: int = 0


@dataclass(frozen=True)
class Markdown:
    """A document split into its code and its prose (code blocks blanked, so line numbers stay right)."""

    path: Path
    lines: list[str]
    prose: str
    line_starts: list[int]

    @classmethod
    def read(cls, path: Path, text: str | None = None) -> Markdown:
        lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
        prose_lines, fence = [], None
        for line in lines:
            opening = FENCE.match(line)
            if fence is None and opening:
                fence = opening.group(1)
                prose_lines.append("")
            elif fence is not None:
                if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                    fence = None
                prose_lines.append("")
            else:
                prose_lines.append(line)
        prose = "\n".join(prose_lines)
        starts = [0]
        for line in prose_lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        return cls(path, lines, prose, starts)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def code_blocks(self) -> Iterator[tuple[int, str]]:
        """Each line inside a fenced code block, with its line number."""
        fence = None
        for number, line in enumerate(self.lines, 1):
            opening = FENCE.match(line)
            if fence is None:
                if opening:
                    fence = opening.group(1)
            elif line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
            else:
                yield number, line

    def snippets(self) -> Iterator[Snippet]:
        for number, line in self.code_blocks():
            yield Snippet(number, line, block=True)
        for span in CODE_SPAN.finditer(self.prose):
            text = " ".join(span.group(2).split()).replace("\\|", "|")
            yield Snippet(self.line_of(span.start()), text, block=False, start=span.start(), end=span.end())

    def prose_without_code(self) -> str:
        """The prose with inline code blanked (same length), so links are found where they are links."""
        return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), self.prose)

    def anchors(self) -> set[str]:
        """The `#anchor`s GitHub gives this document's headings (a repeated heading gets -1, -2, ...)."""
        seen: dict[str, int] = {}
        anchors = set()
        for line in self.prose.splitlines():
            heading = HEADING.match(line)
            if not heading:
                continue
            slug = github_slug(heading.group(2))
            if slug in seen:
                seen[slug] += 1
                anchors.add(f"{slug}-{seen[slug]}")
            else:
                seen[slug] = 0
                anchors.add(slug)
        return anchors


def github_slug(heading: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays, its target goes
    text = re.sub(r"<[^>]+>", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


# ------------------------------------------------------------------------------------------ the checks

# `bpu-bot` as a command: at the start, after a space or a path (`.venv/bin/bpu-bot`), followed by a word.
# Not `bpu-bot@8081`, `/opt/bpu-bot/`, `data/bpu-bot.sqlite3`, nor a benchmark's output row (`bpu-bot  12000`).
COMMAND = re.compile(r"(?<![^\s/(\"'])bpu-bot\s+(?=[a-z])")
OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
SHELL_COMMENT = re.compile(r"(^|\s)#.*$")
SHELL_SEPARATOR = re.compile(r"&&|\|\||;|\s\|\s")
CONTINUATION = re.compile(r"\s*/\s*")  # `bpu-bot broadcast pause ID` / `resume ID`
MAKE = re.compile(r"(?<![\w$(/.-])make\s+([a-z][\w-]*)")
PYTHON_MODULE = re.compile(r"(?<![\w-])python3?\s+-m\s+([A-Za-z_][\w.]*)")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9_][\w.-]*(?:\s+[A-Za-z0-9_][\w.-]*)*)\s*::?(?!=)")


def subcommands(command: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of a parser by name: `parser()._subparsers._group_actions[0].choices`, or none."""
    if command._subparsers is None:
        return {}
    return dict(command._subparsers._group_actions[0].choices)


@dataclass(frozen=True)
class Shown:
    """A `bpu-bot` command as a document shows it, resolved against the parser."""

    line: int
    path: tuple[str, ...]  # the subcommands found, e.g. ("export", "leads")
    options: tuple[str, ...]  # every --option shown after them
    command: argparse.ArgumentParser  # the parser of the last subcommand found
    wrong: str | None  # a word that should be a subcommand and is not, with what the parser has instead


def parser_at(root: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    command = root
    for word in path:
        command = subcommands(command)[word]
    return command


def resolve(line: int, root: argparse.ArgumentParser, parent: tuple[str, ...], words: list[str]) -> Shown:
    """Walk the sub-parsers from `parent` along the words, as argparse would, then collect the options."""
    command, path, used, wrong = parser_at(root, parent), list(parent), 0, None
    for shown_word in words:
        choices, word = subcommands(command), shown_word.rstrip(",;:.)")  # "(`bpu-bot chat`, or ...)"
        if not choices or word.startswith("-"):
            break
        if word not in choices:
            wrong = (
                f"`{' '.join(['bpu-bot', *path, word])}`: {word!r} is not a subcommand of "
                f"`{' '.join(['bpu-bot', *path])}` (it has: {', '.join(sorted(choices))})"
            )
            break
        command = choices[word]
        path.append(word)
        used += 1
    options = tuple(OPTION.findall(" ".join(words[used:])))
    return Shown(line, tuple(path), options, command, wrong)


def commands_shown(markdown: Markdown, root: argparse.ArgumentParser) -> Iterator[Shown]:
    """Every `bpu-bot ...` in a code block's line or in inline code.

    A span that continues the one before it in a table cell, as in `bpu-bot officers list` / `remove ID`, is read
    as a command of the nearest parent that has its first word (`bpu-bot officers remove ID`).
    """
    previous: tuple[int, Shown] | None = None  # where the last inline command ended, and what it was
    for snippet in markdown.snippets():
        text = SHELL_COMMENT.sub("", snippet.text) if snippet.block else snippet.text
        commands = list(COMMAND.finditer(text))
        for found in commands:
            rest = text[found.end() :]
            if snippet.block:
                rest = SHELL_SEPARATOR.split(rest, maxsplit=1)[0]
            shown_command = resolve(snippet.line, root, (), rest.split())
            yield shown_command
            if not snippet.block:
                previous = (snippet.end, shown_command)
        if commands or snippet.block:
            continue
        if previous and CONTINUATION.fullmatch(markdown.prose[previous[0] : snippet.start]):
            words, last = snippet.text.split(), previous[1]
            parents = [last.path[:depth] for depth in range(len(last.path) - 1, -1, -1)]
            parent = next((p for p in parents if words and words[0] in subcommands(parser_at(root, p))), None)
            if parent is None:
                wrong = (
                    f"`{snippet.text}`, after `bpu-bot {' '.join(last.path)}` /, is not a subcommand of "
                    f"`bpu-bot {' '.join(last.path[:-1])}` nor of its parents"
                )
                continuation = Shown(snippet.line, last.path, (), last.command, wrong)
            else:
                continuation = resolve(snippet.line, root, parent, words)
            yield continuation
            previous = (snippet.end, continuation)


def command_errors(markdown: Markdown, root: argparse.ArgumentParser) -> Iterator[str]:
    """Every `bpu-bot ...` shown: its subcommand path exists, and each `--option` after it is one it accepts."""
    for command in commands_shown(markdown, root):
        where = f"{shown(markdown.path)}:{command.line}"
        if command.wrong:
            yield f"{where}: {command.wrong}"
            continue
        name = " ".join(["bpu-bot", *command.path])
        for option in command.options:
            if option not in command.command._option_string_actions:
                accepted = sorted(o for o in command.command._option_string_actions if o.startswith("--"))
                yield f"{where}: `{name} {option}`: `{name}` has no option {option} (it accepts: {', '.join(accepted)})"


def makefile_targets(makefile: Path) -> set[str]:
    targets = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        if match := MAKE_TARGET.match(line):
            targets.update(name for name in match.group(1).split() if not name.startswith("."))
    return targets


def make_errors(markdown: Markdown, targets: set[str]) -> Iterator[str]:
    for snippet in markdown.snippets():
        text = SHELL_COMMENT.sub("", snippet.text) if snippet.block else snippet.text
        for found in MAKE.finditer(text):
            if found.group(1) not in targets:
                yield (
                    f"{shown(markdown.path)}:{snippet.line}: `make {found.group(1)}`: the Makefile has no target "
                    f"{found.group(1)!r} (it has: {', '.join(sorted(targets))})"
                )


def module_errors(markdown: Markdown, root: Path) -> Iterator[str]:
    """`python -m bench.x` (and any other module of this repository's own packages) names a file that exists."""
    for snippet in markdown.snippets():
        for found in PYTHON_MODULE.finditer(snippet.text):
            module = found.group(1).rstrip(".")
            parts = module.split(".")
            if not (root / parts[0]).is_dir():
                continue  # not one of ours: `python -m venv`, `python -m pytest`
            base = root.joinpath(*parts)
            if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
                yield (
                    f"{shown(markdown.path)}:{snippet.line}: `python -m {module}`: there is no "
                    f"{'/'.join(parts)}.py (nor {'/'.join(parts)}/__main__.py)"
                )


def link_errors(markdown: Markdown) -> Iterator[str]:
    """Each relative link points to a file that exists, and its `#anchor` (if any) to a heading there."""
    prose = markdown.prose_without_code()
    for found in LINK.finditer(prose):
        target = found.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto:
        where = f"{shown(markdown.path)}:{markdown.line_of(found.start())}"
        file_part, _, anchor = target.partition("#")
        linked = (markdown.path.parent / file_part).resolve() if file_part else markdown.path
        if not linked.exists():
            yield f"{where}: link `{target}` points to {shown(linked)}, which does not exist"
            continue
        if anchor and linked.suffix == ".md" and linked.is_file():
            anchors = markdown.anchors() if linked == markdown.path else Markdown.read(linked).anchors()
            if anchor not in anchors:
                yield f"{where}: link `{target}`: {shown(linked)} has no heading with the anchor #{anchor}"


# ------------------------------------------------------------------------------------------ the tests


def all_errors(check) -> list[str]:
    return [error for path in documents() for error in check(Markdown.read(path))]


def test_the_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines, the front door has fewer than {README_MAX_LINES}: "
        "move the detail into docs/ and link it"
    )


def test_there_are_docs_to_read_on():
    assert len(documents()) > 1, "docs/*.md: none found"


def test_every_bpu_bot_command_shown_exists_with_its_options():
    root = build_parser()
    errors = all_errors(lambda markdown: command_errors(markdown, root))
    assert not errors, "commands in the docs that `bpu-bot` does not have:\n" + "\n".join(errors)


def test_the_docs_show_the_commands_people_use():
    """The search itself works: it finds the commands a reader is told about (else the test above proves nothing)."""
    root = build_parser()
    found = {command.path for doc in documents() for command in commands_shown(Markdown.read(doc), root)}
    for expected in [("run",), ("db", "upgrade"), ("officers", "add"), ("broadcast", "create"), ("export", "leads")]:
        assert expected in found, f"no `bpu-bot {' '.join(expected)}` found in README.md or docs/*.md"


def test_every_make_target_shown_exists():
    targets = makefile_targets(ROOT / "Makefile")
    assert {"run", "test"} <= targets, targets
    errors = all_errors(lambda markdown: make_errors(markdown, targets))
    assert not errors, "make targets in the docs that the Makefile does not have:\n" + "\n".join(errors)


def test_every_python_module_shown_exists():
    errors = all_errors(lambda markdown: module_errors(markdown, ROOT))
    assert not errors, "`python -m` modules in the docs that do not exist:\n" + "\n".join(errors)


def test_every_relative_link_resolves():
    errors = all_errors(link_errors)
    assert not errors, "links in the docs that lead nowhere:\n" + "\n".join(errors)


# ------------------------------------------------------------------------------------------ the checks fail


SAMPLE = """# Title

## A section (`with/code.py`)

Run `bpu-bot export leeds --output x.csv`, `bpu-bot audit list --bogus` and `bpu-bot
broadcast create --text-file F --segment "" --at 08:00`; then `make tset` and `python -m bench.nothing`.
`bpu-bot officers list` / `remove ID` and `bpu-bot roles list` / `roles set 1 staff\\|admin` are fine, `make test` too,
but not `bpu-bot broadcast list` / `show ID [--fast]` / `cancel ID` / `tomorrow`.
See [this](#a-section-withcodepy), [that](missing.md), [there](sample.md#nowhere) and [out](https://example.org).

```sh
bpu-bot officers add --name "Rina" --telegram-id 1 --region Seluma   # a comment: --not-an-option
.venv/bin/bpu-bot db upgrade --fast
make run
```

```
bpu-bot      12000 updates       546 updates/s
```

```ini
ExecStart=/opt/bpu-bot/.venv/bin/bpu-bot run
Description=bpu-bot on port %i
```
"""


@pytest.fixture
def sample(tmp_path: Path) -> Markdown:
    path = tmp_path / "sample.md"
    path.write_text(SAMPLE, encoding="utf-8")
    return Markdown.read(path)


def test_a_wrong_command_or_option_is_named_with_its_line(sample: Markdown):
    errors = [error.split("sample.md:", 1)[1] for error in command_errors(sample, build_parser())]
    assert errors == [
        "13: `bpu-bot db upgrade --fast`: `bpu-bot db upgrade` has no option --fast (it accepts: --help)",
        "5: `bpu-bot export leeds`: 'leeds' is not a subcommand of `bpu-bot export` (it has: leads)",
        "5: `bpu-bot audit list --bogus`: `bpu-bot audit list` has no option --bogus "
        "(it accepts: --action, --actor, --help, --limit, --refused, --since)",
        "8: `bpu-bot broadcast show --fast`: `bpu-bot broadcast show` has no option --fast "
        "(it accepts: --follow, --help)",
        "8: `tomorrow`, after `bpu-bot broadcast cancel` /, is not a subcommand of `bpu-bot broadcast` "
        "nor of its parents",
    ]


def test_a_wrong_make_target_module_or_link_is_named_with_its_line(sample: Markdown):
    assert [error.split("sample.md:", 1)[1] for error in make_errors(sample, {"run", "test"})] == [
        "6: `make tset`: the Makefile has no target 'tset' (it has: run, test)"
    ]
    assert [error.split("sample.md:", 1)[1] for error in module_errors(sample, ROOT)] == [
        "6: `python -m bench.nothing`: there is no bench/nothing.py (nor bench/nothing/__main__.py)"
    ]
    links = [error.split("sample.md:", 1)[1] for error in link_errors(sample)]
    assert len(links) == 2, links
    assert links[0].startswith("9: link `missing.md` points to ") and links[0].endswith("which does not exist")
    assert links[1].startswith("9: link `sample.md#nowhere`: ") and links[1].endswith("the anchor #nowhere")
