"""Checks and rewrites the figures of README.md and every docs/*.md page from the benchmark results files they cite.

    .venv/bin/python tools/performance_figures.py [--repoint OLD:NEW ...] [--check] [--doc PAGE ...]

A figure is written with the results file and the key it comes from right after it, in an HTML comment Markdown does
not show: ``**12.2x<!-- results-performance.json backfill.over_lower_bound -->**`` (the key is a dotted path into the
JSON). A count that a test asserts may cite the test instead: ``54<!-- asserted by tests/test_x.py::test_y --> streams``
(the test file must exist, hold that test, and the test's own source must name the figure). Without ``--check`` every
figure with a results file is rewritten from it, with the decimals it has; ``--repoint`` first points the figures of
results file OLD at results file NEW (the same keys), and the page's mentions of OLD and of its command at NEW and
NEW's command. With ``--check`` nothing is written and every problem of every page is printed: a figure that differs
from its file, a key the file lacks, a results file that does not record its command or whose command the page does
not name, a cited test that does not exist or does not name the figure, and a measured figure (a number with a unit:
x, s, MB, us, requests) in a table row or a sentence without a source. Targets and bounds (after a less-or-equal or
greater-or-equal sign) need none; nor do numbers in code (fenced blocks and inline code: commands, formulas, output).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BENCHMARKS = ROOT / "benchmarks"


def pages() -> list[Path]:
    """Every page whose figures are checked: the README and each docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


TIMES = "\N{MULTIPLICATION SIGN}"
MICRO = "\N{MICRO SIGN}"
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
UNIT = rf"(?:{TIMES}|x|\s?s\b|\s?MB|\s?{MICRO}s|\s?requests\b)"
MARKED = re.compile(rf"({NUMBER})(\s*{UNIT}?\**\s*<!--\s*)(results-[\w-]+\.json)(\s+)(\S+)(\s*-->)")
BOUNDS = "\N{LESS-THAN OR EQUAL TO}\N{GREATER-THAN OR EQUAL TO}"
TESTED = re.compile(rf"({NUMBER})(\s*{UNIT}?\**\s*<!--\s*asserted by\s+)(tests/[\w/]+\.py)::(\w+)(\s*-->)")
# "8 requests in flight" is a setting, not a measure; a bound written in words counts as a sign
WORDS = ("up to ", "at most ", "at least ", "bound of ", "under ")
FIGURE = re.compile(
    rf"(?<![\w.,{BOUNDS}<>])(?<![{BOUNDS}] )" + "".join(f"(?<!{w})" for w in WORDS) + r"(?![1-5]\d\ds\b)"
    rf"({NUMBER})({TIMES}|\s?s\b|\s?MB|\s?{MICRO}s|\s(?:HTTP )?requests\b(?! (?:may be )?in flight| together))"
    r"(?!\s*\**\s*<!--)(?!\w)"
)
CODE_SPAN = re.compile(r"`[^`]*`")


def lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def marked_figures(text: str) -> list[tuple[str, str, str]]:
    """(figure as shown, results file, key) of every sourced figure."""
    return [(m.group(1), m.group(3), m.group(5)) for m in outside_code(MARKED, text)]


def results_files(text: str) -> dict[str, dict[str, Any]]:
    names = {name for _shown, name, _path in marked_figures(text)}
    return {n: json.loads((BENCHMARKS / n).read_text()) for n in names if (BENCHMARKS / n).exists()}


def formatted(value: float, like: str) -> str:
    """``value`` with as many decimals as ``like`` shows, and thousands separators when it has them."""
    decimals = len(like.partition(".")[2])
    return f"{value:,.{decimals}f}" if "," in like else f"{value:.{decimals}f}"


def check(text: str, files: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with the figures of ``text`` given the results ``files`` (name -> content)."""
    problems = []
    for shown, name, path in marked_figures(text):
        if name not in files:
            problems.append(f"{shown}: no results file {name}")
            continue
        try:
            value = lookup(files[name], path)
        except (KeyError, IndexError, ValueError, TypeError):
            problems.append(f"{shown}: {name} has no {path}")
            continue
        decimals = len(shown.partition(".")[2])
        if round(float(value), decimals) != float(shown.replace(",", "")):
            problems.append(f"{shown}: {name} {path} is {value}")
    problems.extend(tested_problems(text))
    lines = text.splitlines()
    for number, line in enumerate(prose(text).splitlines()):
        problems.extend(f"unsourced figure {m.group(0)!r} in: {lines[number][:80]}" for m in FIGURE.finditer(line))
    return problems


def prose(text: str) -> str:
    """``text`` with code (fenced blocks, inline code spans, also over several lines) and table rulers blanked out,
    each character replaced by a space (so a match in it is at the same place in ``text``)."""
    kept, fenced = [], False
    for line in text.split("\n"):
        fence = line.lstrip().startswith("```")
        fenced = fenced != fence
        kept.append(" " * len(line) if fence or fenced or re.match(r"\|\s*:?-", line) else line)
    return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), "\n".join(kept))


def outside_code(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """The matches of ``pattern`` in ``text`` that are not in code (examples of the comment forms are)."""
    return list(pattern.finditer(prose(text)))


def substitute(pattern: re.Pattern[str], one: Callable[[re.Match[str]], str], text: str) -> str:
    """``pattern.sub(one, text)``, outside code only."""
    parts, at = [], 0
    for m in outside_code(pattern, text):
        parts += [text[at : m.start()], one(m)]
        at = m.end()
    return "".join([*parts, text[at:]])


def test_source(path: str, name: str) -> str | None:
    """The source of test ``name`` in ``path`` (relative to the repository), or None when there is none."""
    file = ROOT / path
    if not file.is_file():
        return None
    source = file.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return ast.get_source_segment(source, node)
    return None


def tested_problems(text: str) -> list[str]:
    """Every figure that cites a test the repository does not have, or whose test does not name it."""
    problems = []
    for m in outside_code(TESTED, text):
        shown, path, name = m.group(1), m.group(3), m.group(4)
        source = test_source(path, name)
        if source is None:
            problems.append(f"{shown}: no test {path}::{name}")
        elif not re.search(rf"(?<![\d.]){re.escape(shown.replace(',', ''))}(?![\d])", source.replace("_", "")):
            problems.append(f"{shown}: {path}::{name} does not name {shown}")
    return problems


def command_problems(text: str, files: dict[str, dict[str, Any]]) -> list[str]:
    """Every results file cited that does not record its command, or whose command the page does not name."""
    problems = []
    for name, content in sorted(files.items()):
        command = content.get("command")
        if not command:
            problems.append(f"{name} does not record the command that wrote it")
        elif f"`{command}`" not in text:
            problems.append(f"the page does not name {name}'s command `{command}`")
    return problems


def page_problems(page: Path) -> list[str]:
    """Everything wrong with the figures of one page."""
    text = page.read_text()
    files = results_files(text)
    return check(text, files) + command_problems(text, files)


def refresh(text: str, files: dict[str, dict[str, Any]]) -> str:
    """``text`` with every sourced figure rewritten from its file (a missing file or key leaves it as it is)."""

    def one(m: re.Match[str]) -> str:
        try:
            value = float(lookup(files[m.group(3)], m.group(5)))
        except (KeyError, IndexError, ValueError, TypeError):
            return m.group(0)
        return formatted(value, m.group(1)) + m.group(0)[len(m.group(1)) :]

    return substitute(MARKED, one, text)


def repoint(text: str, old: str, new: str) -> str:
    """``text`` with the figures of results file ``old`` taken from ``new``, and its file name and command too."""
    text = substitute(
        MARKED, lambda m: m.group(0).replace(m.group(3), new, 1) if m.group(3) == old else m.group(0), text
    )
    old_command = json.loads((BENCHMARKS / old).read_text()).get("command") if (BENCHMARKS / old).exists() else None
    new_command = json.loads((BENCHMARKS / new).read_text()).get("command")
    if old_command and new_command:
        text = text.replace(f"`{old_command}`", f"`{new_command}`")
    return text.replace(f"`benchmarks/{old}`", f"`benchmarks/{new}`")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repoint",
        action="append",
        default=[],
        metavar="OLD:NEW",
        help="take the figures of results file OLD from NEW (repeatable)",
    )
    parser.add_argument("--check", action="store_true", help="only report problems (exit 1 if any)")
    parser.add_argument("--doc", action="append", default=[], help="only this page (repeatable; default: all)")
    args = parser.parse_args(argv)
    failed = False
    for doc in [Path(d) for d in args.doc] or pages():
        text = doc.read_text()
        if not args.check:
            for pair in args.repoint:
                old, _, new = pair.partition(":")
                text = repoint(text, old, new)
            text = refresh(text, results_files(text))
            doc.write_text(text)
        files = results_files(text)
        problems = page_problems(doc)
        for problem in problems:
            print(f"{doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc}: {problem}")
        if marked_figures(text) or outside_code(TESTED, text) or problems:
            cited = ", ".join(sorted(files)) or "no results file"
            print(f"{doc.name}: {len(marked_figures(text))} figures from {cited}; {len(problems)} problem(s)")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
