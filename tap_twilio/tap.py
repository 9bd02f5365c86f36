"""TapTwilio: configuration, accounts, the shared HTTP client and worker pools."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import json
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import cached_property
from pathlib import Path, PurePath
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Catalog
from typing_extensions import override

from tap_twilio import __version__
from tap_twilio.client import TwilioStream
from tap_twilio.dates import UTC, format_iso, parse_iso, to_iso
from tap_twilio.http import HTTP_FORBIDDEN_OR_UNAUTHORIZED, RetryPolicy, TwilioAPIError, TwilioClient, TwilioError
from tap_twilio.streams import STREAM_TYPES
from tap_twilio.writer import BufferedMsgSpecWriter

_T = TypeVar("_T")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")
REGION_EDGES = {  # Twilio's regions and the edge each is reached through by default
    "us1": "ashburn",
    "ie1": "dublin",
    "au1": "sydney",
    "jp1": "tokyo",
    "de1": "frankfurt",
    "sg1": "singapore",
    "br1": "sao-paulo",
}
EDGES = frozenset(
    {
        *REGION_EDGES.values(),
        "umatilla",
        "ashburn-ix",
        "san-jose-ix",
        "london-ix",
        "frankfurt-ix",
        "singapore-ix",
        "sydney-ix",
        "tokyo-ix",
    }
)
MAX_PAGE_SIZE = 1000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_CONCURRENCY = 8  # Twilio limits concurrent requests per account; 429 halves this on the fly


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TapTwilio(Tap):
    """Singer tap for Twilio: accounts and subaccounts, messaging, voice, usage and alerts."""

    name = "tap-twilio"
    package_name = "tap-twilio-sdk"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "account_sid",
            th.StringType,
            required=True,
            title="Account SID",
            description="The main account's SID (AC…); with an API key, the account the key belongs to.",
        ),
        th.Property(
            "auth_token",
            th.StringType,
            secret=True,
            title="Auth token",
            description="The main account's auth token. Use this or api_key_sid + api_key_secret.",
        ),
        th.Property(
            "api_key_sid",
            th.StringType,
            title="API key SID",
            description="An API key (SK…). A Standard key cannot list subaccounts or keys: "
            "then only account_sid is synced and the keys stream is skipped.",
        ),
        th.Property(
            "api_key_secret", th.StringType, secret=True, title="API key secret", description="The API key's secret."
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Earliest record date to sync on a first run (ISO-8601, UTC if no offset). "
            "Default: 30 days ago. Twilio keeps messages and recordings 400 days and alerts 30.",
        ),
        th.Property(
            "date_window_days",
            th.IntegerType,
            default=30,
            title="Date window (days)",
            description="Windowed streams read history in windows of this many days and checkpoint after each.",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=3,
            title="Lookback (days)",
            description="Each run re-reads this many days before the bookmark, to pick up late "
            "status, price and usage changes.",
        ),
        th.Property(
            "account_sids",
            th.ArrayType(th.StringType),
            title="Account SIDs",
            description="Sync only these accounts (main and/or subaccounts); default: every "
            "account the credentials list. Use it to shard subaccounts over workers.",
        ),
        th.Property(
            "region",
            th.StringType,
            title="Region",
            description="Twilio region (us1, ie1, au1, …); with edge the host is api.{edge}.{region}.twilio.com.",
        ),
        th.Property("edge", th.StringType, title="Edge", description="Twilio edge location (dublin, sydney, …)."),
        th.Property(
            "max_concurrency",
            th.IntegerType,
            default=DEFAULT_CONCURRENCY,
            title="Max concurrency",
            description="Most requests in flight at once (all accounts together); halved for a while after a 429.",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=MAX_PAGE_SIZE,
            title="Page size",
            description="Records per request, 1-1000.",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            title="Max retries",
            description="Retries of a request answered 429, 5xx, a reset or a timeout.",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            title="Backoff base (s)",
            description="First retry waits about this long; each further retry doubles it (with jitter).",
        ),
        th.Property(
            "backoff_max_seconds",
            th.NumberType,
            default=60.0,
            title="Backoff max (s)",
            description="Longest wait between retries (a Retry-After header is honoured up to 300 s).",
        ),
        th.Property(
            "request_timeout_seconds",
            th.NumberType,
            default=60.0,
            title="Request timeout (s)",
            description="Read timeout of a request; a stalled response is retried.",
        ),
        th.Property(
            "connect_timeout_seconds",
            th.NumberType,
            default=10.0,
            title="Connect timeout (s)",
            description="Connect timeout of a request.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            title="API base URL",
            description="Override of https://api.twilio.com (the sandbox and tests use it).",
        ),
        th.Property(
            "monitor_url",
            th.StringType,
            title="Monitor base URL",
            description="Override of https://monitor.twilio.com.",
        ),
        th.Property("user_agent", th.StringType, title="User agent", description="User-Agent header to send."),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Read state and catalog files with a clear error, then let the SDK set up."""
        for option in ("state", "catalog"):
            value = kwargs.get(option)
            if isinstance(value, (str, PurePath)):
                kwargs[option] = _read_json_file(Path(value), option)
            elif value is not None and not isinstance(value, (dict, Catalog)):
                raise SystemExit(f"tap-twilio: the {option} file must hold a JSON object")
        super().__init__(*args, **kwargs)
        now = dt.datetime.now(UTC).replace(microsecond=0)
        self.sync_started_at = now
        self.sync_started_iso = format_iso(now)
        self.cancel = threading.Event()
        self.skipped: list[tuple[str, str, int]] = []
        self._warned: set[str] = set()

    @classmethod
    @override
    def invoke(
        cls,
        *,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
        **kwargs: Any,
    ) -> None:
        # the SDK parses these files itself and shows a traceback for bad JSON: say what to fix instead
        checked: dict[str, Any] = {}
        for option, handle in (("state", state), ("catalog", catalog)):
            if handle is not None:
                text = handle.read()
                try:
                    json.loads(text)
                except ValueError:
                    raise SystemExit(f"tap-twilio: the {option} file {handle.name} is not valid JSON") from None
                checked[option] = io.StringIO(text)
        super().invoke(**kwargs, **checked)

    # --- configuration -----------------------------------------------------------------------

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        errors = super()._validate_config(raise_errors=False)
        errors += config_problems(self.config)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(migrate_state(state))

    @cached_property
    def api_url(self) -> str:
        """Base of v2010 requests."""
        return self._base_url("api_url", "api")

    @cached_property
    def monitor_url(self) -> str:
        """Base of Monitor v1 requests."""
        return self._base_url("monitor_url", "monitor")

    def _base_url(self, key: str, product: str) -> str:
        if url := self.config.get(key):
            return str(url).rstrip("/")
        region, edge = self.config.get("region"), self.config.get("edge")
        if region or edge:
            region = region or "us1"
            return f"https://{product}.{edge or REGION_EDGES[region]}.{region}.twilio.com"
        return f"https://{product}.twilio.com"

    @property
    def page_size(self) -> int:
        """Records per request."""
        return int(self.config.get("page_size", MAX_PAGE_SIZE))

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at most."""
        return int(self.config.get("max_concurrency", DEFAULT_CONCURRENCY))

    @property
    def date_window_days(self) -> int:
        """Days per window."""
        return int(self.config.get("date_window_days", 30))

    @cached_property
    def start_date(self) -> dt.datetime:
        """Where a first run starts."""
        value = self.config.get("start_date")
        return parse_iso(value) if value else self.sync_started_at - dt.timedelta(days=30)

    @cached_property
    def start_date_iso(self) -> str:
        """start_date in the emitted format."""
        return format_iso(self.start_date)

    # --- shared machinery --------------------------------------------------------------------

    @cached_property
    def client(self) -> TwilioClient:
        """One HTTP client, limiter and retry policy for the whole run."""
        config = self.config
        if config.get("api_key_sid"):
            auth = (config["api_key_sid"], config.get("api_key_secret", ""))
        else:
            auth = (config["account_sid"], config.get("auth_token", ""))
        policy = RetryPolicy(
            max_retries=int(config.get("max_retries", 8)),
            backoff_base=float(config.get("backoff_base_seconds", 1.0)),
            backoff_max=float(config.get("backoff_max_seconds", 60.0)),
            connect_timeout=float(config.get("connect_timeout_seconds", 10.0)),
            read_timeout=float(config.get("request_timeout_seconds", 60.0)),
        )
        agent = config.get("user_agent") or f"tap-twilio/{__version__}"
        return TwilioClient(auth, max_concurrency=self.max_concurrency, policy=policy, user_agent=agent)

    @cached_property
    def list_executor(self) -> ThreadPoolExecutor:
        """Workers that page through lists ahead of the writer."""
        return ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="twilio-list")

    @cached_property
    def child_executor(self) -> ThreadPoolExecutor:
        """Workers for child lists (media, participants, …), separate so they never wait on lists."""
        return ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="twilio-child")

    def warn_once(self, key: str, message: str) -> None:
        """Log a warning the first time only."""
        if key not in self._warned:
            self._warned.add(key)
            self.logger.warning(message)

    # --- accounts ------------------------------------------------------------------------------

    @property
    def main_account_sid(self) -> str:
        """The configured account."""
        return str(self.config["account_sid"])

    @cached_property
    def account_records(self) -> list[dict[str, Any]]:
        """Raw /Accounts.json records of the accounts this run syncs (also the accounts stream)."""
        wanted = set(self.config.get("account_sids") or ())
        try:
            listed = self._list_accounts()
        except TwilioAPIError as exc:
            if exc.status in HTTP_FORBIDDEN_OR_UNAUTHORIZED and self.config.get("api_key_sid"):
                self._check_key_access()  # a key that works nowhere is bad credentials, not a Standard key
                self.logger.warning(
                    "The API key cannot list accounts (HTTP %s; a Standard key cannot read /Accounts or "
                    "/Keys): syncing only account %s; the accounts and keys streams stay empty",
                    exc.status,
                    self.main_account_sid,
                )
                return []
            if exc.status == 401:
                raise TwilioError(_credentials_message(self.config)) from exc
            raise
        if wanted:
            missing = sorted(wanted - {r.get("sid") for r in listed})
            if missing:
                self.logger.warning("account_sids not visible to these credentials: %s", ", ".join(missing))
            listed = [r for r in listed if r.get("sid") in wanted]
        return listed

    def account_created(self, account_sid: str | None) -> dt.datetime:
        """Start of the UTC day an account was created (the epoch when unknown or not listed yet)."""
        if "account_records" not in self.__dict__:
            return EPOCH
        return self._created.get(account_sid or "") or EPOCH

    @cached_property
    def _created(self) -> dict[str, dt.datetime]:
        result = {}
        for record in self.account_records:
            try:
                iso = to_iso(record.get("date_created"))
            except ValueError:
                continue
            if iso:
                result[record["sid"]] = parse_iso(iso).replace(hour=0, minute=0, second=0)
        return result

    @cached_property
    def synced_account_sids(self) -> list[str]:
        """Active accounts to read resources of, main first; others are skipped with a warning."""
        records = self.account_records
        if not records and not self.config.get("account_sids") and self.config.get("api_key_sid"):
            return [self.main_account_sid]
        if not records and self.config.get("api_key_sid"):
            return [s for s in self.config["account_sids"] if s == self.main_account_sid]
        result = []
        for record in records:
            if record.get("status", "active") == "active":
                result.append(record["sid"])
            else:
                self.logger.warning(
                    "Skipping %s account %s (%s)",
                    record.get("status"),
                    record["sid"],
                    record.get("friendly_name") or "no name",
                )
        result.sort(key=lambda sid: sid != self.main_account_sid)
        self.logger.info("Syncing %d account(s)", len(result))
        return result

    def _list_accounts(self) -> list[dict[str, Any]]:
        """Every page of /Accounts.json, through the accounts stream's own paging and page checks."""
        accounts = self.streams["accounts"]
        assert isinstance(accounts, TwilioStream)
        return [record for page in accounts.iter_pages({}, {}) for record in accounts.records_of(page)]

    def _check_key_access(self) -> None:
        """With the account list forbidden, prove the key works at all before syncing."""
        try:
            self.client.get(f"{self.api_url}/2010-04-01/Accounts/{self.main_account_sid}/Balance.json")
        except TwilioAPIError as exc:
            if exc.status == 401:
                raise TwilioError(_credentials_message(self.config)) from exc
            raise

    # --- running ---------------------------------------------------------------------------------

    @override
    def discover_streams(self) -> list[Any]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    # sync_all and run_connection_test are final in the SDK's typing, but the SDK offers no hook before the
    # first stream: accounts must be resolved (and bad credentials reported in one line) before any output
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        self._run(super().sync_all)
        self._report()

    @override  # type: ignore[misc]
    def run_connection_test(self) -> bool:
        return self._run(super().run_connection_test)

    def _run(self, work: Callable[[], _T]) -> _T:
        """Resolve accounts first (bad credentials fail there, before any output), then work; fail in one line."""
        try:
            _ = self.synced_account_sids
            return work()
        except TwilioError as exc:
            self.logger.error("Sync failed: %s", exc)  # one line, no traceback
            self._shutdown()
            self.message_writer.drain()  # type: ignore[attr-defined]
            raise SystemExit(1) from None
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.cancel.set()
        for name in ("list_executor", "child_executor"):
            if name in self.__dict__:
                self.__dict__[name].shutdown(wait=False, cancel_futures=True)

    def _report(self) -> None:
        if "client" not in self.__dict__:
            return
        stats, limiter = self.client.stats, self.client.limiter
        self.logger.info(
            "Requests: %d, retries: %d %s, waited %.1fs on retries, max in flight %d, throttled %d time(s)",
            stats.requests,
            stats.retries,
            dict(sorted(stats.by_reason.items())),
            stats.retry_wait_seconds,
            limiter.max_in_flight,
            limiter.throttled,
        )
        if self.skipped:
            by_account: dict[str, list[str]] = {}
            for stream, account, status in self.skipped:
                by_account.setdefault(account, []).append(f"{stream} ({status})")
            for account, items in by_account.items():
                self.logger.warning("Account %s was not readable for: %s", account, ", ".join(items))


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with a config, one fix per line; secrets are never echoed."""
    problems = []
    sid = config.get("account_sid")
    if not isinstance(sid, str) or not ACCOUNT_SID.match(sid):
        problems.append("account_sid must be 'AC' followed by 32 hex characters (your Twilio Console's Account SID)")
    key = config.get("api_key_sid")
    if key is not None and (not isinstance(key, str) or not API_KEY_SID.match(key)):
        problems.append("api_key_sid must be 'SK' followed by 32 hex characters")
    if key and not config.get("api_key_secret"):
        problems.append("api_key_secret is required with api_key_sid")
    if not key and not config.get("auth_token"):
        problems.append("set auth_token, or api_key_sid and api_key_secret")
    for sid in config.get("account_sids") or ():
        if not isinstance(sid, str) or not ACCOUNT_SID.match(sid):
            problems.append("account_sids must hold account SIDs ('AC' + 32 hex characters)")
            break
    if start := config.get("start_date"):
        try:
            parse_iso(str(start))
        except ValueError:
            problems.append("start_date must be an ISO-8601 date, e.g. 2024-01-01T00:00:00Z")
    checks = (
        ("date_window_days", 1, None, "date_window_days must be a whole number of days, at least 1"),
        ("lookback_days", 0, None, "lookback_days must be 0 or more"),
        ("page_size", 1, MAX_PAGE_SIZE, "page_size must be between 1 and 1000 (Twilio's maximum)"),
        ("max_concurrency", 1, 64, "max_concurrency must be between 1 and 64"),
        ("max_retries", 0, 100, "max_retries must be between 0 and 100"),
        ("request_timeout_seconds", 0.001, None, "request_timeout_seconds must be more than 0"),
        ("connect_timeout_seconds", 0.001, None, "connect_timeout_seconds must be more than 0"),
        ("backoff_base_seconds", 0, None, "backoff_base_seconds must be 0 or more"),
        ("backoff_max_seconds", 0, None, "backoff_max_seconds must be 0 or more"),
    )
    for name, low, high, message in checks:
        value = config.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, Decimal))
            or value < low
            or (high is not None and value > high)
            or (name in {"date_window_days", "page_size", "max_concurrency", "max_retries"} and value != int(value))
        ):
            problems.append(message)
    region, edge = config.get("region"), config.get("edge")
    if region is not None and region not in REGION_EDGES:
        problems.append(f"region must be one of {', '.join(sorted(REGION_EDGES))}")
    if edge is not None and edge not in EDGES:
        problems.append(f"edge must be one of {', '.join(sorted(EDGES))}")
    for name in ("api_url", "monitor_url"):
        url = config.get(name)
        if url is None:
            continue
        parts = urlsplit(str(url))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problems.append(f"{name} must be an http(s) URL")
        elif parts.scheme != "https" and not _is_local(str(url)):
            problems.append(f"{name} must use https (plain http is allowed only for localhost)")
    return problems


def migrate_state(state: dict[str, Any]) -> dict[str, Any]:
    """Accept this tap's state and singer-io/Stitch's flat bookmarks; refuse anything else clearly."""
    if not isinstance(state, dict):
        msg = "the state must be a JSON object"
        raise ConfigValidationError(msg, errors=[f"state file: {msg}"])
    if "value" in state and "bookmarks" not in state and isinstance(state["value"], dict):
        state = state["value"]  # Meltano's wrapped form
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or any(k not in {"bookmarks", "currently_syncing"} for k in state):
        msg = "unknown state format: expected {'bookmarks': {...}} as written by this tap, Meltano or Stitch"
        raise ConfigValidationError(msg, errors=[f"state file: {msg}"])
    migrated: dict[str, Any] = {}
    for stream, bookmark in bookmarks.items():
        legacy = (
            bookmark.get("date_updated") or bookmark.get("date_created") if isinstance(bookmark, dict) else bookmark
        )
        if isinstance(legacy, str):  # singer-io / Stitch: {"messages": "2024-01-01T00:00:00Z"}
            migrated[stream] = {"replication_key_value": _iso_or_fail(stream, legacy)}
        elif isinstance(bookmark, dict):
            migrated[stream] = bookmark
        else:
            msg = f"unknown state format for stream '{stream}'"
            raise ConfigValidationError(msg, errors=[f"state file: {msg}"])
    return {"bookmarks": migrated}


def _iso_or_fail(stream: str, value: str) -> str:
    try:
        return to_iso(value) or value
    except ValueError:
        msg = f"bookmark of stream '{stream}' is not a date"
        raise ConfigValidationError(msg, errors=[f"state file: {msg}"]) from None


def _credentials_message(config: Mapping[str, Any]) -> str:
    pair = "api_key_sid and api_key_secret" if config.get("api_key_sid") else "account_sid and auth_token"
    return f"Twilio rejected the credentials (HTTP 401, error 20003): check {pair}"


def _read_json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"tap-twilio: cannot read the {what} file {path}: {exc.strerror}") from None
    except ValueError:
        raise SystemExit(f"tap-twilio: the {what} file {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise SystemExit(f"tap-twilio: the {what} file {path} must hold a JSON object")
    return data
