"""Every figure README.md and docs/*.md quote is the one its committed results file holds (no benchmark is run here).

A figure is written with the results file and the key it comes from right after it, in an HTML comment that Markdown
does not show (tools/performance_figures.py holds the rules, and rewrites the figures after a run); a count a test
asserts may cite that test instead. The figure must equal the value rounded to the decimals shown; every ratio, time,
size and request count in a table row or a sentence carries such a comment (targets and bounds do not, nor code);
every results file cited records the command that wrote it, and the page that cites it names that command.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("performance_figures", ROOT / "tools" / "performance_figures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["performance_figures"] = module
    spec.loader.exec_module(module)
    return module


figures = _load_tool()
TIMES = figures.TIMES
check, marked_figures, results_files = figures.check, figures.marked_figures, figures.results_files
PAGES = figures.pages()


def test_the_pages_are_the_readme_and_every_docs_page() -> None:
    assert ROOT / "README.md" in PAGES
    assert sorted((ROOT / "docs").glob("*.md")) == sorted(p for p in PAGES if p.parent.name == "docs")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_figure_of_every_page_is_its_results_files_value_and_names_its_command(page: Path) -> None:
    assert figures.page_problems(page) == []


@pytest.mark.parametrize(
    ("page", "results"),
    [
        ("performance.md", "results-performance.json"),
        ("conversations.md", "results-conversations.json"),
        ("orchestration.md", "results-shards.json"),
        ("orchestration.md", "results-performance.json"),
    ],
)
def test_the_measured_pages_quote_their_benchmarks_results_files(page: str, results: str) -> None:
    assert results in {name for _shown, name, _key in marked_figures((ROOT / "docs" / page).read_text())}


def test_a_results_file_without_its_command_on_the_page_is_found() -> None:
    files = {"results-x.json": {"command": ".venv/bin/python benchmarks/x.py", "n": 3}}
    text = "3<!-- results-x.json n --> runs"
    assert figures.command_problems(text, files) == [
        "the page does not name results-x.json's command `.venv/bin/python benchmarks/x.py`"
    ]
    assert figures.command_problems(text + " (`.venv/bin/python benchmarks/x.py`)", files) == []
    assert figures.command_problems(text, {"results-x.json": {"n": 3}}) == [
        "results-x.json does not record the command that wrote it"
    ]


THIS = "tests/test_performance_figures.py"
LE = "\N{LESS-THAN OR EQUAL TO}"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (f"2,070<!-- asserted by {THIS}::test_a_figure_that_matches_its_file_passes --> requests", []),
        (
            f"9,999<!-- asserted by {THIS}::test_a_figure_that_matches_its_file_passes --> requests",
            [f"9,999: {THIS}::test_a_figure_that_matches_its_file_passes does not name 9,999"],
        ),
        (f"2,070<!-- asserted by {THIS}::test_nope --> requests", [f"2,070: no test {THIS}::test_nope"]),
        (
            "2,070<!-- asserted by tests/test_nope.py::test_a --> requests",
            ["2,070: no test tests/test_nope.py::test_a"],
        ),
    ],
)
def test_a_figure_may_cite_the_test_that_asserts_it_only_when_that_test_names_it(
    text: str, problems: list[str]
) -> None:
    assert check(text, {}) == problems


@pytest.mark.parametrize(
    ("text", "unsourced"),
    [
        ("The run took 54.8 s and made 1,234 requests.", ["54.8 s", "1,234 requests"]),
        (f"It is 3.1{TIMES} the lower bound, 12 MB at most.", [f"3.1{TIMES}", "12 MB"]),
        (f"A target of {LE} 1.3{TIMES}, at most 1.3{TIMES}, up to 300 s.", []),
        ("Run `sleep 5 s` or\n```\nSync completed after 10.0s: 1505 requests\n```\n", []),
        ("Twilio answers 429s; 8 requests may be in flight.", []),
    ],
)
def test_a_measured_figure_in_a_sentence_needs_a_source_too(text: str, unsourced: list[str]) -> None:
    assert [p.split("'")[1] for p in check(text, {})] == unsourced


ROW = f"| backfill | 12.2{TIMES} | \N{LESS-THAN OR EQUAL TO} 1.3{TIMES} |"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"wall **1.30{TIMES}<!-- results-x.json a.b -->**", "1.30: results-x.json a.b is 1.2345"),
        (f"wall **1.2{TIMES}<!-- results-x.json a.c -->**", "1.2: results-x.json has no a.c"),
        (f"wall **1.2{TIMES}<!-- results-y.json a.b -->**", "1.2: no results file results-y.json"),
        (ROW, f"unsourced figure '12.2{TIMES}' in: {ROW}"),
        (
            ROW.replace(f"12.2{TIMES}", "54.8 s"),
            f"unsourced figure '54.8 s' in: {ROW.replace(f'12.2{TIMES}', '54.8 s')}",
        ),
    ],
)
def test_a_figure_that_drifts_from_its_file_or_has_none_is_found(text: str, problem: str) -> None:
    assert check(text, {"results-x.json": {"a": {"b": 1.2345}}}) == [problem]


def test_a_figure_that_matches_its_file_passes() -> None:
    text = f"| backfill | **1.2{TIMES}<!-- results-x.json a.b -->** | \N{LESS-THAN OR EQUAL TO} 1.3{TIMES} |"
    text += " 2,070<!-- results-x.json n --> requests |"
    assert check(text, {"results-x.json": {"a": {"b": 1.2345}, "n": 2070}}) == []


def test_an_example_of_the_comment_forms_in_code_is_no_figure() -> None:
    text = f"write `1.2{TIMES}<!-- results-y.json a.b -->` or `5<!-- asserted by tests/test_nope.py::test_a -->`"
    assert marked_figures(text) == []
    assert check(text, {}) == []
    assert figures.refresh(text, {"results-y.json": {"a": {"b": 9}}}) == text


def test_the_tool_rewrites_a_figure_from_its_file_with_the_decimals_shown() -> None:
    text = f"| a | **9.9{TIMES}<!-- results-x.json a.b -->** | 1<!-- results-x.json n --> requests |"
    new = figures.refresh(text, {"results-x.json": {"a": {"b": 1.2345}, "n": 2070}})
    assert new == f"| a | **1.2{TIMES}<!-- results-x.json a.b -->** | 2070<!-- results-x.json n --> requests |"
    assert check(new, {"results-x.json": {"a": {"b": 1.2345}, "n": 2070}}) == []


def test_the_conversations_page_quotes_the_summary_lines_its_results_file_holds() -> None:
    results = json.loads((ROOT / "benchmarks" / "results-conversations.json").read_text())
    page = (ROOT / "docs" / "conversations.md").read_text()
    assert results["moves"]["default"]["summary"]
    for line in results["moves"]["default"]["summary"]:
        assert f"\n{line}\n" in page
