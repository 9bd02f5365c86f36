"""Checks and rewrites the figures of docs/performance.md from the benchmark results files they cite.

    .venv/bin/python tools/performance_figures.py [--repoint OLD:NEW ...] [--check]

A figure is written with the results file and the key it comes from right after it, in an HTML comment Markdown does
not show: ``**12.2x<!-- results-performance.json backfill.over_lower_bound -->**`` (the key is a dotted path into the
JSON). Without ``--check`` every such figure is rewritten from its file, with the decimals it has; ``--repoint``
first points the figures of results file OLD at results file NEW (the same keys), and the page's mentions of OLD and
of its command at NEW and NEW's command. With ``--check``
nothing is written and every problem is printed: a figure that differs from its file, a key the file lacks, a figure
in a table row without a source (targets, written after a less-or-equal or greater-or-equal sign, need none).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BENCHMARKS = ROOT / "benchmarks"

TIMES = "\N{MULTIPLICATION SIGN}"
MICRO = "\N{MICRO SIGN}"
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
UNIT = rf"(?:{TIMES}|x|\s?s\b|\s?MB|\s?{MICRO}s|\s?requests\b)"
MARKED = re.compile(rf"({NUMBER})(\s*{UNIT}?\**\s*<!--\s*)(results-[\w-]+\.json)(\s+)(\S+)(\s*-->)")
BOUNDS = "\N{LESS-THAN OR EQUAL TO}\N{GREATER-THAN OR EQUAL TO}"
FIGURE = re.compile(
    rf"(?<![\w.,{BOUNDS}<>])(?<![{BOUNDS}] )({NUMBER})({TIMES}|\s?s\b|\s?MB|\s?{MICRO}s)(?!\s*\**\s*<!--)(?!\w)"
)


def lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def marked_figures(text: str) -> list[tuple[str, str, str]]:
    """(figure as shown, results file, key) of every sourced figure."""
    return [(m.group(1), m.group(3), m.group(5)) for m in MARKED.finditer(text)]


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
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("| ---"):
            problems.extend(f"unsourced figure {m.group(0)!r} in: {line[:80]}" for m in FIGURE.finditer(line))
    return problems


def refresh(text: str, files: dict[str, dict[str, Any]]) -> str:
    """``text`` with every sourced figure rewritten from its file (a missing file or key leaves it as it is)."""

    def one(m: re.Match[str]) -> str:
        try:
            value = float(lookup(files[m.group(3)], m.group(5)))
        except (KeyError, IndexError, ValueError, TypeError):
            return m.group(0)
        return formatted(value, m.group(1)) + m.group(0)[len(m.group(1)) :]

    return MARKED.sub(one, text)


def repoint(text: str, old: str, new: str) -> str:
    """``text`` with the figures of results file ``old`` taken from ``new``, and its file name and command too."""
    text = MARKED.sub(lambda m: m.group(0).replace(m.group(3), new, 1) if m.group(3) == old else m.group(0), text)
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
    parser.add_argument("--doc", default=str(DOC))
    args = parser.parse_args(argv)
    doc = Path(args.doc)
    text = doc.read_text()
    if not args.check:
        for pair in args.repoint:
            old, _, new = pair.partition(":")
            text = repoint(text, old, new)
    files = results_files(text)
    if not args.check:
        text = refresh(text, files)
        doc.write_text(text)
    problems = check(text, files)
    for problem in problems:
        print(problem)
    print(f"{len(marked_figures(text))} figures from {', '.join(sorted(files))}; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
