"""The tap's settings: one JSON schema (constraints and defaults written once), read into one typed object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_twilio.dates import parse_iso
from tap_twilio.shards import SHARD_PATTERN, TABLES, Shard, Tables

if TYPE_CHECKING:
    from collections.abc import Mapping

ACCOUNT_SID_PATTERN = "^AC[0-9a-fA-F]{32}$"
API_KEY_SID_PATTERN = "^SK[0-9a-fA-F]{32}$"
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
REGION_EDGES = {  # Twilio's regions and the edge each is reached through by default
    "us1": "ashburn",
    "ie1": "dublin",
    "au1": "sydney",
    "jp1": "tokyo",
    "de1": "frankfurt",
    "sg1": "singapore",
    "br1": "sao-paulo",
}
EDGES = sorted(
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
DEFAULT_START_DAYS = 30


def _decimal(minimum: float, *, exclusive: bool = False) -> th.CustomType:
    """A number, or a numeric string: Meltano 4.4 crashes on `kind: decimal` settings from the environment."""
    bound = {"exclusiveMinimum": minimum} if exclusive else {"minimum": minimum}
    return th.CustomType({"type": ["number", "string"], "pattern": DECIMAL_PATTERN, **bound})


CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "account_sid",
        th.StringType(pattern=ACCOUNT_SID_PATTERN),
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
        th.StringType(pattern=API_KEY_SID_PATTERN),
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
        description=f"Earliest record date to sync on a first run (ISO-8601, UTC if no offset). "
        f"Default: {DEFAULT_START_DAYS} days ago. Twilio keeps messages and recordings 400 days and alerts 30.",
    ),
    th.Property(
        "date_window_days",
        th.IntegerType(minimum=1),
        default=30,
        title="Date window (days)",
        description="Windowed streams read history in windows of this many days and checkpoint after each.",
    ),
    th.Property(
        "lookback_days",
        _decimal(0),
        default=3,
        title="Lookback (days)",
        description="Each run re-reads this many days before the bookmark, to pick up late "
        "status, price and usage changes (fractions allowed).",
    ),
    th.Property(
        "deleted_recordings_lookback_days",
        th.IntegerType(minimum=0, maximum=40),
        default=40,
        title="Deleted recordings lookback (days)",
        description="Each run re-reads this many days of recordings (IncludeSoftDeleted=true) so that a recording "
        "deleted after it was synced reaches the warehouse with status 'deleted' (deleting keeps date_created; "
        "Twilio keeps deleted recordings 40 days). 0: only the lookback.",
    ),
    th.Property(
        "conversation_date_tracks_messages",
        th.BooleanType,
        default=False,
        title="A new message moves its conversation's date_updated",
        description="Read conversation messages only of conversations whose date_updated moved since the last "
        "run. Twilio's docs do not say that a new message or participant moves it: leave this off (the default) "
        "and every conversation that is not closed costs one request per run (docs/conversations.md).",
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=True,
        title="Emit ACTIVATE_VERSION",
        description="After a full-table stream was read completely (every account, nothing skipped), send Singer "
        "ACTIVATE_VERSION so the target deletes or flags rows gone from Twilio. Turn off for targets that "
        "cannot take it (target-postgres with add_record_metadata false).",
    ),
    th.Property(
        "account_sids",
        th.ArrayType(th.StringType(pattern=ACCOUNT_SID_PATTERN)),
        title="Account SIDs",
        description="Sync only these accounts (main and/or subaccounts); default: every "
        "account the credentials list. Use it to shard subaccounts over workers.",
    ),
    th.Property(
        "shard",
        th.StringType(pattern=SHARD_PATTERN),
        title="Shard",
        description="Sync only the accounts of this shard, e.g. 3/16: those whose SID hashes to it (a stable hash: "
        "a new subaccount joins one shard and moves no other). Shard 1 also reads the main account and the "
        "once-per-run streams (pricing). Give each shard its own state. tap-twilio-plan prints the split.",
    ),
    th.Property(
        "tables",
        th.StringType,
        allowed_values=list(TABLES),
        default="all",
        title="Tables",
        description="full_table: only the tables a complete read replaces (full-table streams and their full-table "
        "children, which get ACTIVATE_VERSION); incremental: every other table; all: both. Shards read "
        "incremental, and one unsharded run reads full_table so deletions still reach the target.",
    ),
    th.Property(
        "fail_on_inaccessible_accounts",
        th.BooleanType,
        default=False,
        title="Fail on inaccessible accounts",
        description="Exit 1 after the sync when an account could not be read: its credentials were rejected (401) "
        "or it refused the 2010 API (403: revoked, suspended). A product the account lacks (Voice Insights' 403) "
        "does not count. The other accounts are still read and loaded. Default: a warning only.",
    ),
    th.Property(
        "region",
        th.StringType,
        allowed_values=sorted(REGION_EDGES),
        title="Region",
        description="Twilio region; with edge the host is {product}.{edge}.{region}.twilio.com.",
    ),
    th.Property(
        "edge",
        th.StringType,
        allowed_values=EDGES,
        title="Edge",
        description="Twilio edge location (default: the region's own).",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1, maximum=256),
        default=32,
        title="Max concurrency",
        description="Most requests in flight at once, all accounts together (the process cap); each account also "
        "stays within max_concurrency_per_account.",
    ),
    th.Property(
        "max_concurrency_per_account",
        th.IntegerType(minimum=1, maximum=100),
        default=16,
        title="Max concurrency per account",
        description="Most requests in flight for one Twilio account (Twilio limits concurrent requests per account, "
        "about 100 by default, and answers 429 above it): the rest is left to the account's own traffic. A 429 "
        "halves the account's share for a while.",
    ),
    th.Property(
        "read_ahead_mb",
        th.IntegerType(minimum=1, maximum=4096),
        default=16,
        title="Read-ahead buffer (MB)",
        description="Pages downloaded ahead of the writer weigh at most about this many megabytes in all.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        title="Page size",
        description="Records per request, 1-1000 (lists with a lower Twilio maximum ask for that).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=100),
        default=8,
        title="Max retries",
        description="Retries of a request answered 429, 5xx, a reset or a timeout.",
    ),
    th.Property(
        "backoff_base_seconds",
        _decimal(0),
        default=1,
        title="Backoff base (s)",
        description="First retry waits about this long; each further retry doubles it (with jitter).",
    ),
    th.Property(
        "backoff_max_seconds",
        _decimal(0),
        default=60,
        title="Backoff max (s)",
        description="Longest wait between retries (a Retry-After header is honoured up to 300 s).",
    ),
    th.Property(
        "request_timeout_seconds",
        _decimal(0, exclusive=True),
        default=60,
        title="Request timeout (s)",
        description="Read timeout of a request; a stalled response is retried.",
    ),
    th.Property(
        "connect_timeout_seconds",
        _decimal(0, exclusive=True),
        default=10,
        title="Connect timeout (s)",
        description="Connect timeout of a request. A host that refuses connections before it ever answered "
        "fails the run after this long (a name that does not resolve at once).",
    ),
    th.Property(
        "base_url_template",
        th.StringType(pattern=r"\{product\}"),
        default="https://{product}.twilio.com",
        title="Base URL template",
        description="Where each Twilio product is reached; {product} is api, monitor, conversations, studio, "
        "verify, messaging, trunking, insights, pricing or taskrouter. region/edge apply to the default. "
        "A local server for every product: http://127.0.0.1:PORT/{product}.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API base URL",
        description="Override of the 2010 API's base (https://api.twilio.com); wins over base_url_template.",
    ),
    th.Property(
        "monitor_url",
        th.StringType,
        title="Monitor base URL",
        description="Override of Monitor's base (https://monitor.twilio.com); wins over base_url_template.",
    ),
    th.Property("user_agent", th.StringType, title="User agent", description="User-Agent header to send."),
).to_dict()

DEFAULTS = {name: prop["default"] for name, prop in CONFIG_SCHEMA["properties"].items() if "default" in prop}


def _number(value: Any) -> float:
    return float(Decimal(str(value)))


@dataclass(frozen=True)
class Settings:
    """The validated config, typed; defaults come from CONFIG_SCHEMA."""

    account_sid: str
    auth: tuple[str, str]  # (user, password) of the configured credentials
    uses_api_key: bool
    account_sids: tuple[str, ...]
    shard: Shard | None
    tables: Tables
    fail_on_inaccessible_accounts: bool
    start_date: dt.datetime | None
    date_window_days: int
    lookback: dt.timedelta
    deleted_recordings_lookback: dt.timedelta
    conversation_date_tracks_messages: bool
    emit_activate_version_messages: bool
    max_concurrency: int
    max_concurrency_per_account: int
    read_ahead_bytes: int
    page_size: int
    max_retries: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    request_timeout_seconds: float
    connect_timeout_seconds: float
    base_url_template: str
    api_url: str | None
    monitor_url: str | None
    region: str | None
    edge: str | None
    user_agent: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read a config that passed `config_problems` (absent keys take the schema's default)."""

        def get(name: str) -> Any:
            return config.get(name, DEFAULTS.get(name))

        key = get("api_key_sid")
        auth = (key, get("api_key_secret") or "") if key else (get("account_sid"), get("auth_token") or "")
        start = get("start_date")
        return cls(
            account_sid=str(get("account_sid")),
            auth=(str(auth[0]), str(auth[1])),
            uses_api_key=bool(key),
            account_sids=tuple(get("account_sids") or ()),
            shard=Shard.parse(get("shard")) if get("shard") else None,
            tables=get("tables"),
            fail_on_inaccessible_accounts=bool(get("fail_on_inaccessible_accounts")),
            start_date=parse_iso(str(start)) if start else None,
            date_window_days=int(get("date_window_days")),
            lookback=dt.timedelta(days=_number(get("lookback_days"))),
            deleted_recordings_lookback=dt.timedelta(days=int(get("deleted_recordings_lookback_days"))),
            conversation_date_tracks_messages=bool(get("conversation_date_tracks_messages")),
            emit_activate_version_messages=bool(get("emit_activate_version_messages")),
            max_concurrency=int(get("max_concurrency")),
            max_concurrency_per_account=int(get("max_concurrency_per_account")),
            read_ahead_bytes=int(get("read_ahead_mb")) << 20,
            page_size=int(get("page_size")),
            max_retries=int(get("max_retries")),
            backoff_base_seconds=_number(get("backoff_base_seconds")),
            backoff_max_seconds=_number(get("backoff_max_seconds")),
            request_timeout_seconds=_number(get("request_timeout_seconds")),
            connect_timeout_seconds=_number(get("connect_timeout_seconds")),
            base_url_template=str(get("base_url_template")),
            api_url=get("api_url"),
            monitor_url=get("monitor_url"),
            region=get("region"),
            edge=get("edge"),
            user_agent=get("user_agent"),
        )

    def base_url(self, product: str) -> str:
        """Base URL of a Twilio product ('api', 'monitor', 'conversations', …), without a trailing slash."""
        override = {"api": self.api_url, "monitor": self.monitor_url}.get(product)
        if override:
            return override.rstrip("/")
        template = self.base_url_template
        if (self.region or self.edge) and template == DEFAULTS["base_url_template"]:
            region = self.region or "us1"
            template = f"https://{{product}}.{self.edge or REGION_EDGES[region]}.{region}.twilio.com"
        return template.replace("{product}", product).rstrip("/")

    def first_day(self, now: dt.datetime) -> dt.datetime:
        """Where a first run starts."""
        return self.start_date or now - dt.timedelta(days=DEFAULT_START_DAYS)
