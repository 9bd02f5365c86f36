"""Child-list prefetch: a parent's records start their child lists at once; each child's window per account."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from tap_twilio.bookmarks import BookmarkedStream
from tap_twilio.http import TwilioError
from tap_twilio.windows import Unit, Window

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_twilio.page import Page

WRITER = (0,)  # the place in the writer's order of the page it is at: before every page read ahead


class ChildListsStream(BookmarkedStream):
    """Child lists (media, participants, …) downloaded as soon as their parent's page arrives."""

    @cached_property
    def _children_wanted(self) -> bool:
        return any(child.selected or child.has_selected_descendents for child in self.child_streams)

    @cached_property
    def _unchanged_have_children(self) -> bool:
        return self.children_of_unchanged and bool(self.replication_key) and self._children_wanted

    @cached_property
    def _depth(self) -> int:
        """How many ancestors this stream has (a grandchild: 2)."""
        depth, parent = 0, self.parent_stream_type
        while parent is not None:
            depth, parent = depth + 1, parent.parent_stream_type
        return depth

    def _prefetch_children(
        self, records: list[dict[str, Any]], context: dict[str, Any], order: tuple[int, ...] | None = None
    ) -> None:
        """Queue the child lists of a page's records, so they download in parallel, in the order the writer takes
        them: `order` is the page's place in that order. By default the writer is at the page, and it goes depth
        first: a parent's child lists come before the lists of its parent's later siblings queued earlier, so those
        (fetched and waiting) never take the room the lists it needs now would use."""
        if not self._children_wanted:
            return
        if order is None:
            order = (*WRITER, -(self._depth + 1))
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        for record in records:
            for child_context in self.generate_child_contexts(record, context):
                if child_context is None:
                    continue
                for child in children:
                    assert isinstance(child, ChildListsStream)
                    child.prefetch(dict(child_context), order)

    def wants(self, context: dict[str, Any]) -> bool:
        """Whether this child list exists for a parent (e.g. a country offers the number type)."""
        return True

    def prefetch(self, context: dict[str, Any], order: tuple[int, ...] = WRITER) -> None:
        """Queue every page of this child list for download (from the writer or a parent's worker thread)."""
        if not self.wants(context):
            return
        key = tuple(sorted(context.items()))
        with self._prefetch_lock:
            if key not in self._prefetched:
                params = self._child_params(context)
                self._prefetched[key] = self.run.prefetch.add(order, lambda: self._fetch_all(context, params))

    def forget_prefetched(self, account: str) -> None:
        """Drop an account's downloads the SDK did not ask for (e.g. a stream map filtered the parent)."""
        with self._prefetch_lock:
            for key in [k for k in self._prefetched if ("account_sid", account) in k]:
                self.run.prefetch.drop(self._prefetched.pop(key))

    def _fetch_all(self, context: dict[str, Any], params: dict[str, Any] | None) -> list[Page]:
        if params is None:  # an empty window: nothing to ask for
            return []
        return list(self.iter_pages(context, params))

    def _child_window(self, context: dict[str, Any]) -> Window | None:
        """A windowed child list is read in one window per parent: from the account's bookmark (less the
        lookback) to the sync's start; the bookmark moves when the ancestor has read the whole account."""
        if not self.date_filter:
            return None
        account = context.get("account_sid")
        window = self._child_windows.get(account)
        if window is None:
            window = self._child_windows[account] = Window(self.start_time(context), self.run.started_at)
        return window

    def _child_params(self, context: dict[str, Any]) -> dict[str, Any] | None:
        window = self._child_window(context)
        if window is None:
            return {}
        return self.window_params(window) if window.start < window.end else None

    def _child_batches(self, context: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if not self.wants(context):
            return
        with self._prefetch_lock:
            ticket = self._prefetched.pop(tuple(sorted(context.items())), None)
        account = context.get("account_sid", "")
        try:
            pages = (
                self.run.prefetch.take(ticket)
                if ticket is not None
                else self._fetch_all(context, self._child_params(context))
            )
        except TwilioError as exc:
            self._child_failed.add(context.get("account_sid"))
            if self._tolerable(exc, account):
                return
            raise self._fatal(exc, account) from exc
        self._child_read.add(context.get("account_sid"))
        window = self._child_window(context)
        unit = Unit(context, window, (), True, *(self._client_filter(context) if window is None else (None, False)))
        seen_null: set[Any] = set()
        key = self.replication_key
        for page in pages:
            unchanged: list[dict[str, Any]] | None = [] if self._unchanged_have_children else None
            kept = self._keep(self.records_of(page), unit, context, seen_null, unchanged)
            if kept and key and unit.window is None:
                newest = max((r.get(key) or "") for r in kept)
                if newest > self._child_high.get(context.get("account_sid"), ""):
                    self._child_high[context.get("account_sid")] = newest
            self._prefetch_children(kept + unchanged if unchanged else kept, context)
            for record in unchanged or ():  # not emitted, but their child lists may have changed
                for child_context in self.generate_child_contexts(record, context):
                    self._sync_children(child_context)
            if kept:
                yield kept

    def _prepare_child_windows(self, context: dict[str, Any]) -> None:
        """Fix the windows of windowed descendants for this account now, on the writer's thread: the workers
        that start child lists early must not read state (the writer may be encoding it)."""
        for child in self.child_streams:
            if isinstance(child, ChildListsStream) and (child.selected or child.has_selected_descendents):
                child._child_window({"account_sid": context.get("account_sid")})
                child._prepare_child_windows(context)
