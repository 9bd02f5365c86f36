"""The README is a landing page and docs/ the reference: links resolve, every stream and setting is documented, and
nothing points outside the repository."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tap_twilio.config import CONFIG_SCHEMA
from tap_twilio.streams import STREAM_TYPES

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md")))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
README_MAX_BYTES = 12_000


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file (lowercase, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    result = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M):
        slug = "".join(c for c in heading.lower() if c in " -_" or unicodedata.category(c)[0] in "LN")
        result.add(slug.replace(" ", "-"))
    return result


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_a_page_resolves(page: Path) -> None:
    for target in links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} points outside the repository"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_refers_to_anything_outside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for pattern in (r"\.\./shared", r"\bshared/", r"design card", r"\bissue \d+", r"<this repository>"):
        assert not re.search(pattern, text, flags=re.I), f"{page.name}: {pattern}"


def test_the_readme_is_a_landing_page_that_links_every_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= README_MAX_BYTES
    linked = {Path(t.partition("#")[0]).name for t in links(ROOT / "README.md")}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= linked, "every docs/ page is one click from the README"


def test_every_stream_has_a_row_in_the_stream_reference() -> None:
    text = (ROOT / "docs" / "streams.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(\w+)`", text, flags=re.M))
    names = {stream.name for stream in STREAM_TYPES}
    assert names <= rows, f"not in docs/streams.md: {sorted(names - rows)}"


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for setting in CONFIG_SCHEMA["properties"]:
        assert f"| {setting} |" in text, setting
