"""The accounts a run syncs: listed once from /Accounts.json (main first, inactive ones skipped, a shard's only),
each one's creation day and the credentials its product APIs need."""

from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tap_twilio.dates import UTC, parse_iso, to_iso
from tap_twilio.http import HTTP_FORBIDDEN_OR_UNAUTHORIZED, TwilioAPIError, TwilioError
from tap_twilio.pagination import follow_pages, records_in

if TYPE_CHECKING:
    from tap_twilio.config import Settings
    from tap_twilio.run import SyncRun

EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class AccountDirectory:
    """The accounts a run syncs, listed once from /Accounts.json, and each one's credentials for product APIs."""

    def __init__(self, run: SyncRun) -> None:
        """Nothing is requested until the accounts are first asked for."""
        self._run = run
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """Raw /Accounts.json records of the accounts this run syncs (also the accounts stream's records)."""
        with self._lock:
            if self._records is None:
                self._records = self._list()
            return self._records

    @property
    def listed(self) -> bool:
        """Whether the accounts were listed yet."""
        return self._records is not None

    def _list(self) -> list[dict[str, Any]]:
        run, settings = self._run, self._run.settings
        api = settings.base_url("api")
        try:
            pages = follow_pages(
                run.client(),
                f"{api}/2010-04-01/Accounts.json",
                {"PageSize": settings.page_size},
                root=api,
                label="accounts",
                sizes=run.page_sizes,
            )
            listed = [record for page in pages for record in records_in(page, "accounts", "accounts")]
        except TwilioAPIError as exc:
            if exc.status in HTTP_FORBIDDEN_OR_UNAUTHORIZED and settings.uses_api_key:
                self._check_key_access()  # a key that works nowhere is bad credentials, not a Standard key
                run.logger.warning(
                    "The API key cannot list accounts (HTTP %s; a Standard key cannot read /Accounts or "
                    "/Keys): syncing only account %s; the accounts and keys streams stay empty",
                    exc.status,
                    settings.account_sid,
                )
                return []
            if exc.status == 401:
                raise TwilioError(credentials_message(settings)) from exc
            raise
        wanted = set(settings.account_sids)
        if wanted:
            missing = sorted(wanted - {r.get("sid") for r in listed})
            if missing:
                run.logger.warning("account_sids not visible to these credentials: %s", ", ".join(missing))
            listed = [r for r in listed if r.get("sid") in wanted]
        if settings.shard is not None:
            listed = [r for r in listed if self.in_shard(str(r.get("sid")))]
        return listed

    def in_shard(self, account_sid: str) -> bool:
        """Whether the shard setting (if any) gives this run the account."""
        shard = self._run.settings.shard
        return shard is None or shard.owns(account_sid, self._run.settings.account_sid)

    def _check_key_access(self) -> None:
        """With the account list forbidden, prove the key works at all before syncing."""
        settings = self._run.settings
        try:
            self._run.client().get(
                f"{settings.base_url('api')}/2010-04-01/Accounts/{settings.account_sid}/Balance.json"
            )
        except TwilioAPIError as exc:
            if exc.status == 401:
                raise TwilioError(credentials_message(settings)) from exc
            raise

    @cached_property
    def synced(self) -> list[str]:
        """Active accounts to read resources of, main first; others are skipped with a warning."""
        settings, records = self._run.settings, self.records
        main = settings.account_sid
        if not records and settings.uses_api_key:
            wanted = not settings.account_sids or main in settings.account_sids
            return [main] if wanted and self.in_shard(main) else []
        result = []
        for record in records:
            if record.get("status", "active") == "active":
                result.append(record["sid"])
            else:
                self._run.logger.warning(
                    "Skipping %s account %s (%s)",
                    record.get("status"),
                    record["sid"],
                    record.get("friendly_name") or "no name",
                )
        result.sort(key=lambda sid: sid != main)
        self._run.logger.info("Syncing %d account(s)", len(result))
        return result

    @cached_property
    def _created(self) -> dict[str, dt.datetime]:
        result = {}
        for record in self.records:
            try:
                iso = to_iso(record.get("date_created"))
            except ValueError:
                continue
            if iso:
                result[record["sid"]] = parse_iso(iso).replace(hour=0, minute=0, second=0)
        return result

    def created(self, account_sid: str | None) -> dt.datetime:
        """Start of the UTC day an account was created (the epoch when unknown or not listed yet)."""
        if not self.listed:
            return EPOCH
        return self._created.get(account_sid or "") or EPOCH

    def credentials(self, account_sid: str) -> tuple[str, str] | None:
        """An account's own credentials, which its product API data needs (main: the configured ones)."""
        settings = self._run.settings
        if account_sid == settings.account_sid:
            return settings.auth
        for record in self.records:
            if record.get("sid") == account_sid and record.get("auth_token"):
                return (account_sid, str(record["auth_token"]))
        return None


def credentials_message(settings: Settings) -> str:
    """The one line for credentials Twilio rejects."""
    pair = "api_key_sid and api_key_secret" if settings.uses_api_key else "account_sid and auth_token"
    return f"Twilio rejected the credentials (HTTP 401, error 20003): check {pair}"
