"""Every figure docs/performance.md quotes is the one its committed results file holds (no benchmark is run here).

A figure is written with the results file and the key it comes from right after it, in an HTML comment that Markdown
does not show (tools/performance_figures.py holds the rules, and rewrites the figures after a run). The figure must
equal the value rounded to the decimals shown; every ratio, time and size in a table row carries such a comment
(targets, written after a bound sign, do not); every results file cited records the command that wrote it, and the
page names that command.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"


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


def test_every_figure_of_the_performance_page_is_its_results_files_value() -> None:
    text = DOC.read_text()
    assert marked_figures(text), "docs/performance.md quotes no figure from a results file"
    assert check(text, results_files(text)) == []


def test_every_results_file_cited_records_the_command_that_wrote_it_and_the_page_names_it() -> None:
    text = DOC.read_text()
    for name, content in results_files(text).items():
        command = content.get("command")
        assert command, f"{name} does not record the command that wrote it"
        assert f"`{command}`" in text, f"docs/performance.md does not name {name}'s command {command!r}"


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


def test_the_tool_rewrites_a_figure_from_its_file_with_the_decimals_shown() -> None:
    text = f"| a | **9.9{TIMES}<!-- results-x.json a.b -->** | 1<!-- results-x.json n --> requests |"
    new = figures.refresh(text, {"results-x.json": {"a": {"b": 1.2345}, "n": 2070}})
    assert new == f"| a | **1.2{TIMES}<!-- results-x.json a.b -->** | 2070<!-- results-x.json n --> requests |"
    assert check(new, {"results-x.json": {"a": {"b": 1.2345}, "n": 2070}}) == []
