"""The closing lines of a run: accounts that were not readable, what the requests cost, and one line with the
outcome, records per stream, requests and duration (the detail at DEBUG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from tap_twilio.http import Gate

SUMMARY_STREAMS_WIDTH = 160  # the closing line names the largest streams in about this many characters


@dataclass
class Closing:
    """What a run cost and wrote, logged when it ends (completed, failed, interrupted or stopped)."""

    logger: logging.Logger
    gate: Gate | None  # the requests' caps and counts (None: no request was made)
    pipeline: Any
    records: dict[str, int]
    seconds: float
    lines: list[str]  # what streams add (e.g. what reading conversations cost)

    def report(self, skipped: list[tuple[str, str, int]], outcome: str, note: str) -> None:
        """Log the closing lines."""
        by_account: dict[str, list[str]] = {}
        for stream, account, status in skipped:
            by_account.setdefault(account, []).append(f"{stream} ({status})")
        for account, items in by_account.items():
            self.logger.warning("Account %s was not readable for: %s", account, shorten(", ".join(items)))
        gate = self.gate
        stats = gate.stats if gate is not None else None
        if gate is not None and stats is not None:
            limiters = list(gate.limiters.values())
            self.logger.info(
                "Requests: %d, retries: %d %s, waited %.1fs on retries, max in flight %d, throttled %d time(s)",
                stats.requests,
                stats.retries,
                dict(sorted(stats.by_reason.items())),
                stats.retry_wait_seconds,
                gate.max_in_flight,
                sum(limiter.throttled for limiter in limiters),
            )
            self.logger.info(
                "Concurrency: process cap %d, per account %d; most in flight for one account: %d",
                gate.max_concurrency,
                gate.per_account,
                max((limiter.max_in_flight for limiter in limiters), default=0),
            )
            self.logger.debug("Requests by stream: %s", dict(sorted(stats.by_stream.items())))
        for line in self.lines:
            self.logger.info("%s", shorten(line))
        if self.pipeline is not None:
            pipeline = self.pipeline
            self.logger.info(
                "Read ahead: at most %d lists in flight ahead of the writer, %d pages buffered "
                "(peak buffer %.1f MB, budget %d MB)",
                pipeline.max_ahead,
                pipeline.gauge.peak_items,
                pipeline.gauge.peak / 2**20,
                pipeline.budget >> 20,
            )
        self.logger.debug("Records by stream: %s", dict(sorted(self.records.items())))
        self.logger.info(
            "%s after %.1fs: %s, %d requests%s",
            outcome,
            self.seconds,
            records_summary(self.records),
            stats.requests if stats is not None else 0,
            f"; {note}" if note else "",
        )


def records_summary(records: dict[str, int]) -> str:
    """'12,345 records (messages 10,000, calls 2,000, 3 more streams 345)': the largest streams, on one line."""
    total = sum(records.values())
    parts: list[str] = []
    ranked = sorted(records.items(), key=lambda item: (-item[1], item[0]))
    for index, (stream, count) in enumerate(ranked):
        if len(", ".join(parts)) > SUMMARY_STREAMS_WIDTH:
            rest = ranked[index:]
            parts.append(f"{len(rest)} more streams {sum(c for _, c in rest):,}")
            break
        parts.append(f"{stream} {count:,}")
    return f"{total:,} records" + (f" ({', '.join(parts)})" if parts else "")


def shorten(text: str, width: int = 300) -> str:
    """A line a terminal shows in a few rows at most."""
    return text if len(text) <= width else f"{text[: width - 30]}… ({len(text) - width + 30} more characters)"
