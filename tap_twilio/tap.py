"""TapTwilio: settings, streams and the run's life; the command line's one-line errors. Wiring only."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import sys
import warnings
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path, PurePath
from typing import IO, TYPE_CHECKING, Any, cast

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import SingerCommand, _ConfigInput
from singer_sdk.singerlib import Catalog, StateMessage
from typing_extensions import override

from tap_twilio.config import CONFIG_SCHEMA, Settings
from tap_twilio.dates import to_iso
from tap_twilio.http import TwilioError
from tap_twilio.logs import make_readable
from tap_twilio.run import PROGRESS, SyncRun
from tap_twilio.shards import deselect_outside
from tap_twilio.stop import EXIT_BROKEN_PIPE, Stopper, StopSignalError, exit_now, silence_stdout
from tap_twilio.streams import STREAM_TYPES
from tap_twilio.validation import config_problems
from tap_twilio.writer import BufferedMsgSpecWriter, StateLines

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    from tap_twilio.client import TwilioStream

METRICS_LEVEL_ENV = "TAP_TWILIO_METRICS_LOG_LEVEL"  # INFO brings the SDK's METRIC lines back


class UsageError(TwilioError):
    """A file or argument the tap cannot use: one line, exit 1."""


class TapTwilio(Tap):
    """Singer tap for Twilio: every account and subaccount, the 2010 API, Monitor and the product APIs."""

    name = "tap-twilio"
    package_name = "tap-twilio-sdk"
    message_writer_class = BufferedMsgSpecWriter
    message_writer: BufferedMsgSpecWriter
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Read state and catalog files with a clear error, then let the SDK set up."""
        make_readable()
        for option in ("state", "catalog"):
            value = kwargs.get(option)
            if isinstance(value, (str, PurePath)):
                kwargs[option] = read_json_file(Path(value), option)
                if option == "state":
                    check_state(kwargs[option], f"the state file {value}")
            elif value is not None and not isinstance(value, (dict, Catalog)):
                msg = f"the {option} must be a JSON object"
                raise UsageError(msg)
        super().__init__(*args, **kwargs)
        self._state_writer = StateLines(self.message_writer)  # the SDK's is set here and read in sync_all
        # the SDK logs two METRIC lines per child list (thousands for message_media): DEBUG unless asked for
        self.metrics_logger.setLevel(os.environ.get(METRICS_LEVEL_ENV, "WARNING").upper())
        self._check_catalog_selection()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # one line per problem, without the SDK's extra "Config validation failed" lines
        self.append_builtin_config(self.config_jsonschema)
        errors = config_problems(self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        migrated = migrate_state(state)
        super().load_state(migrated)  # the SDK copies bookmarks only
        if PROGRESS in migrated:
            cast("dict[str, Any]", self.state)[PROGRESS] = migrated[PROGRESS]

    @cached_property
    def run(self) -> SyncRun:
        """What this sync shares; streams get it at creation."""
        return SyncRun(Settings.from_config(self.config), self.logger, self.message_writer)

    @override
    def discover_streams(self) -> list[TwilioStream]:
        return [stream_type(tap=self, run=self.run) for stream_type in STREAM_TYPES]

    def _check_catalog_selection(self) -> None:
        """A selected stream the tap does not have (a typo in a hand-edited catalog) is an error, not ignored."""
        catalog = self.input_catalog
        if catalog is None:
            return
        known = set(self.streams)
        unknown = sorted(
            entry.tap_stream_id
            for entry in catalog.streams
            if entry.tap_stream_id not in known and entry.metadata.root.selected
        )
        if unknown:
            msg = f"the catalog selects stream(s) this tap does not have: {', '.join(unknown)} (see --discover)"
            raise UsageError(msg)

    # sync_all is final in the SDK's typing, but the SDK offers no hook around a whole sync: accounts must be
    # listed (bad credentials fail in one line before any output), the resume marker settled, and a signal or a
    # target that stopped reading must end the sync with what is finished, in one line
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        run, writer = self.run, self.message_writer
        self._stopper.run = run
        try:
            _ = run.accounts.synced
            run.sync_clock()  # the run's start from Twilio's first answer (the accounts listing)
            settings = run.settings
            if settings.tables != "all" or settings.shard is not None:
                main_in_shard = run.accounts.in_shard(settings.account_sid)
                streams = cast("list[TwilioStream]", list(self.streams.values()))
                deselect_outside(streams, settings.tables, settings.shard, main_in_shard)
            run.begin(self.state)
            super().sync_all()
            run.finish(self.state)
            writer.write_message(StateMessage(value=self.state))
        except StopSignalError as stop:
            self._interrupted(stop.signum)
        except BrokenPipeError:
            run.close()
            silence_stdout()
            self.logger.error(  # one line: the target's own error says why it stopped
                "The target stopped reading the tap's output (broken pipe): it failed or exited, see its messages; "
                "the tap stopped too (the target's last state is where the next run starts)"
            )
            run.report("Stopped: the target stopped reading")
            exit_now(EXIT_BROKEN_PIPE)
        except BaseException:
            if self._stopper.signum is not None:  # a list stopped by the signal (no request starts) failed first
                self._interrupted(self._stopper.signum)
            run.close()
            run.report("Sync failed")
            with contextlib.suppress(OSError):
                writer.drain()
            raise
        run.close()
        run.report()
        writer.drain()
        if run.settings.fail_on_inaccessible_accounts and (accounts := run.inaccessible()):
            msg = f"{len(accounts)} account(s) could not be read (fail_on_inaccessible_accounts): {', '.join(accounts)}"
            raise TwilioError(msg)

    def _interrupted(self, signum: int) -> None:
        """A stop signal ended the sync: the finished work's STATE, one line, exit 128 + the signal."""
        run, writer = self.run, self.message_writer
        self._stopper.stand_down()
        run.close()
        with contextlib.suppress(OSError):
            writer.write_state(self.state)  # the finished work: the next run resumes after it
        name = signal.Signals(signum).name
        lists = completed_lists(cast("dict[str, Any]", self.state))
        run.report(
            f"Interrupted by {name}", f"{lists} stream/account lists complete; STATE written, the next run resumes"
        )
        exit_now(128 + signum)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # the SDK writes a STATE from inside the handler (possibly in the middle of a record line) and exits 0
        self._stopper.handle(signum, frame)

    @cached_property
    def _stopper(self) -> Stopper:
        return Stopper(None)

    @classmethod
    @override
    def invoke(cls, *, state: IO[str] | None = None, catalog: IO[str] | None = None, **kwargs: Any) -> None:
        # the SDK parses these files itself and shows a traceback for bad JSON: say which file instead
        checked: dict[str, Any] = {}
        for option, handle in (("state", state), ("catalog", catalog)):
            if handle is not None:
                text = handle.read()
                if option == "state" and not text.strip():  # some schedulers create the file before a first run
                    cls.logger.info("The state file %s is empty: starting without state", handle.name)
                    text = "{}"
                try:
                    data = json.loads(text)
                except ValueError:
                    msg = f"the {option} file {handle.name} is not valid JSON" + (
                        f"; expected {STATE_SHAPE}" if option == "state" else ""
                    )
                    raise UsageError(msg) from None
                if not isinstance(data, dict):
                    msg = f"the {option} file {handle.name} must hold a JSON object" + (
                        f": {STATE_SHAPE}" if option == "state" else ""
                    )
                    raise UsageError(msg)
                if option == "state":
                    check_state(data, f"the state file {handle.name}")
                checked[option] = io.StringIO(text)
        super().invoke(**kwargs, **checked)

    @classmethod
    @override
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        # the SDK discovers without validating a static catalog's config, so a bad setting either passed (and
        # failed the sync later) or broke discovery with a traceback: check it as a sync does
        if not value:
            return
        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True, setup_mapper=False)
        tap.run_discovery()
        ctx.exit()

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        return TwilioCommand(
            name=command.name,
            callback=command.callback,
            params=command.params,
            context_settings=command.context_settings,
            logger=cls.logger,
        )


class TwilioCommand(SingerCommand):
    """The command line boundary: every failure the tap knows is one line and exit 1, never a traceback."""

    @override
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        # the SDK reads --config, and runs --discover and --test, while parsing arguments
        with _one_line_errors():
            return super().make_context(*args, **kwargs)

    @override
    def invoke(self, ctx: click.Context) -> Any:
        logging.captureWarnings(capture=True)
        warnings.filterwarnings("once", category=DeprecationWarning)
        sys.excepthook = self.excepthook
        with _one_line_errors():
            return click.Command.invoke(self, ctx)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    logger = logging.getLogger(TapTwilio.name)
    try:
        yield
    except ConfigValidationError as error:
        for problem in error.errors:
            logger.error("Invalid config: %s", problem)
        sys.exit(1)
    except UsageError as error:
        logger.error("%s", error)
        sys.exit(1)
    except TwilioError as error:
        logger.error("Sync failed: %s", error)
        sys.exit(1)
    except StopSignalError as stop:  # before the sync started (discovery, reading the files)
        logger.error("Interrupted by %s", signal.Signals(stop.signum).name)
        exit_now(128 + stop.signum)
    except BrokenPipeError:  # e.g. --discover | head
        silence_stdout()
        logger.error("The reader of the tap's output stopped reading (broken pipe)")
        exit_now(EXIT_BROKEN_PIPE)
    except (FileNotFoundError, PermissionError, IsADirectoryError, json.JSONDecodeError) as error:
        # only --config is read by the SDK itself (state and catalog are read in TapTwilio.invoke)
        logger.error("Cannot read the config file: %s", error)
        sys.exit(1)


STATE_SHAPE = (
    '{"bookmarks": {"<stream>": {...}}} as this tap writes it, Meltano\'s {"value": {"bookmarks": ...}} '
    'or Stitch\'s {"bookmarks": {"<stream>": "<ISO date>"}}'
)


class StateFormatError(UsageError):
    """A state the tap cannot read; its message says what is wrong, and the caller adds where it came from."""


def check_state(state: Any, source: str) -> None:
    """Refuse a state of an unknown shape in one line naming its file and the shape expected."""
    try:
        migrate_state(state)
    except StateFormatError as exc:
        msg = f"{source}: {exc}"
        raise UsageError(msg) from None


def migrate_state(state: dict[str, Any]) -> dict[str, Any]:
    """Accept this tap's state, Meltano's wrapped form and singer-io/Stitch's flat bookmarks; refuse the rest."""
    if not isinstance(state, dict):
        msg = f"the state must be a JSON object: {STATE_SHAPE}"
        raise StateFormatError(msg)
    if "value" in state and "bookmarks" not in state and isinstance(state["value"], dict):
        state = state["value"]  # Meltano's wrapped form
    bookmarks = state.get("bookmarks", {})
    unknown = sorted(k for k in state if k not in {"bookmarks", "currently_syncing", PROGRESS})
    if unknown:
        msg = f"unknown state format (unexpected key {', '.join(map(repr, unknown))}); expected {STATE_SHAPE}"
        raise StateFormatError(msg)
    if not isinstance(bookmarks, dict):
        msg = f"unknown state format ('bookmarks' is {type(bookmarks).__name__}, not an object); expected {STATE_SHAPE}"
        raise StateFormatError(msg)
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
            msg = (
                f"unknown state format for stream '{stream}' (its bookmark is {type(bookmark).__name__}); "
                f"expected {STATE_SHAPE}"
            )
            raise StateFormatError(msg)
    result: dict[str, Any] = {"bookmarks": migrated}
    if isinstance(state.get(PROGRESS), dict):
        result[PROGRESS] = state[PROGRESS]
    return result


def _iso_or_fail(stream: str, value: str) -> str:
    try:
        return to_iso(value) or value
    except ValueError:
        msg = f"the state's bookmark of stream '{stream}' is not a date ({value[:40]!r}); expected an ISO-8601 date"
        raise StateFormatError(msg) from None


def completed_lists(state: dict[str, Any]) -> int:
    """How many (stream, account) lists the interrupted run completed (its resume marker)."""
    done = state.get(PROGRESS, {}).get("done", {}) if isinstance(state.get(PROGRESS), dict) else {}
    return sum(len(accounts) for accounts in done.values())


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file, or one clear UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
        if what == "state" and not text.strip():  # some schedulers create the file before a first run
            logging.getLogger(TapTwilio.name).info("The state file %s is empty: starting without state", path)
            return {}
        data = json.loads(text)
    except OSError as exc:
        msg = f"cannot read the {what} file {path}: {exc.strerror}"
        raise UsageError(msg) from None
    except ValueError:
        msg = f"the {what} file {path} is not valid JSON"
        raise UsageError(msg) from None
    if not isinstance(data, dict):
        msg = f"the {what} file {path} must hold a JSON object"
        raise UsageError(msg)
    return data
