"""tap_twilio/_speedups.c: the typed-page converter of convert.py in C (compiled by hatch_build.py where it can be)."""

from collections.abc import Callable
from typing import Any

SOURCE_HASH: str

def convert_page(
    dates: tuple[str, ...],
    numbers: tuple[tuple[str, str], ...],
    secrets: tuple[str, ...],
    cache: dict[str, Any],
    parse: Callable[[str, str], Any],
    to_iso: Callable[[str], str | None],
    unset: object,
    records: list[Any],
    /,
) -> None: ...
def fixed_date(value: object, /) -> str | None: ...
