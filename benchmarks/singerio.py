"""Drive singer-io's ``tap-twilio`` 0.2.2 (the benchmark's reference tap) against a local fake Twilio API.

What singer-io's tap does, as read from its installed source
(``tap_twilio/{__init__,client,streams,sync,schema,discover,transform}.py``), which matters for a fair comparison: its
config needs ``account_sid``, ``auth_token`` and ``start_date`` (checked by ``singer.utils.parse_args``) and also
``user_agent`` (read as ``config['user_agent']``, so a missing key is a ``KeyError``); ``date_window_days`` (default
30) and ``lookback_window`` (default 15 days, used by ``messages`` only) are optional. It never sends ``PageSize``, so
every list is read at the server's default page size (real Twilio: 50; the ``limit = 500`` in ``sync.py`` is only used
in log lines) and it follows ``next_page_uri`` (a path, prefixed with the stream's ``api_url``). Its 23 streams are
``accounts`` (root) with children ``account_balance``, ``addresses`` (grandchild ``dependent_phone_numbers``),
``applications``, ``available_phone_number_countries`` (grandchildren ``available_phone_numbers_local``,
``available_phone_numbers_mobile``, ``available_phone_numbers_toll_free``), ``incoming_phone_numbers``, ``keys``,
``calls``, ``conferences`` (grandchild ``conference_participants``), ``outgoing_caller_ids``, ``recordings``,
``transcriptions``, ``queues``, ``messages`` (grandchild ``message_media``), ``usage_records`` and ``usage_triggers``,
plus the root Monitor stream ``alerts`` (``/v1/Alerts``). Subaccounts: every account that ``GET
/2010-04-01/Accounts.json`` lists with the main credentials (the main account and all subaccounts, whatever their
status; no filter) is a parent, and each child stream is read for each account with those same main credentials, from
the URI in that account record's ``subresource_uris`` (keys ``messages``, ``calls``, ``balance``,
``available_phone_numbers``, ...; ``usage_records``/``usage_triggers`` only need a ``usage`` key and build
``Accounts/{sid}/Usage/...json`` themselves), so a fake server whose account records lack ``subresource_uris`` yields
no child records at all; grandchildren likewise come from the parent record's ``subresource_uris`` (``media``,
``participants``, ``local``/``mobile``/``toll_free``), except ``dependent_phone_numbers`` whose path is built from the
address's ``account_sid``. Bookmarks are per stream, not per account, and live in one in-memory state shared by the
account loop: after account A is synced, account B's windows start from A's max replication value (minus 15 days for
``messages``), so a subaccount's records older than that are silently skipped (seen against a fake server: the main
account's ``messages`` windows started at start_date - 15 d, the subaccount's at the main account's latest
``date_sent`` - 15 d). Selecting a child stream makes the tap walk its unselected parent (``accounts``) too, and it
writes a SCHEMA for it; ``alerts`` is not per account (one Monitor list for the credentials). Incremental streams:
``messages`` (``DateSent>=``/``DateSent<=``), ``calls`` (``EndTime>=``/``EndTime<=``), ``conferences``
(``DateUpdated``), ``recordings`` (``DateCreated``) and ``alerts`` (``StartDate``/``EndDate``) are requested in
``date_window_days`` windows from ``start_date`` (minus 15 days for ``messages``) up to now, as day-truncated,
both-ends-inclusive ``YYYY-MM-DD`` bounds (so a record on a window's boundary day can be emitted twice, and there are
about (now - start_date) / 30 days requests per account per such stream even when empty); the other incremental
streams are read whole and filtered client-side on their replication key (``>= start_date``), and a record whose
replication key is null is dropped; ``usage_records`` sends ``StartDate=<day>`` once. ``alerts`` looks for
``next_page_url`` at the top level of the response (real Monitor puts it under ``meta``), so it reads only the first
page of each window. Selection is by ``metadata`` ``selected: true`` at breadcrumb ``[]``
(``CatalogEntry.is_selected``); field-level selection is not needed (singer's Transformer only drops fields marked
``selected: false`` or ``inclusion: unsupported``). Running against a plain-HTTP local URL: the only hosts are
``tap_twilio.client.API_URL`` (used for the ``Accounts.json`` access check done on entering the client, even in
``--discover``, which therefore needs the server up and valid credentials) and the ``api_url`` of each ``STREAMS``
entry (``https://api.twilio.com``, and ``https://monitor.twilio.com`` for ``alerts``); ``singerio_wrapper.py``
rewrites both to the sandbox URL (same host for ``/2010-04-01`` and ``/v1``), and nothing else assumes https (requests
handles ``http://``; ``>``/``<`` in the filter names arrive percent-encoded, e.g. ``DateSent%3E=2019-01-01``). A list
response must carry the stream's ``data_key`` (``accounts``, ``messages``, ``usage_records``, ``countries`` for
``available_phone_number_countries``, ``available_phone_numbers`` for the local/mobile/toll-free lists, ``media_list``
for ``message_media``, ``participants``, ``alerts``, ...): when the key is absent the tap emits the whole JSON body as
one record (which is how ``account_balance`` gets its record from ``Balance.json``), so an empty reply like
``{"next_page_uri": null}`` counts as one record. The fake server must serve ``next_page_uri`` as a path (not an
absolute URL), since it is appended to the base URL.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TAP_REQUIREMENT = "tap-twilio==0.2.2"
TAP_VERSION = "0.2.2"
WRAPPER = Path(__file__).resolve().with_name("singerio_wrapper.py")
DEFAULT_USER_AGENT = "tap-twilio-benchmark (singer-io tap-twilio 0.2.2)"


def _venv_python(path: Path) -> Path:
    # Not resolve(): the venv's python is a symlink to the base interpreter,
    # and following it would leave the venv.
    return path.absolute() / "bin" / "python"


def _installed_version(python: Path) -> str | None:
    proc = subprocess.run(
        [str(python), "-I", "-c",
         "import importlib.metadata as m; print(m.version('tap-twilio'))"],
        capture_output=True, text=True, check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_venv(path: Path = Path(".bench/singerio-venv")) -> Path:
    """Create a venv at ``path`` (if missing) holding ``tap-twilio==0.2.2``; return its python."""
    path = Path(path)
    python = _venv_python(path)
    if not python.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    if _installed_version(python) == TAP_VERSION:
        return python
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         TAP_REQUIREMENT],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 or _installed_version(python) != TAP_VERSION:
        raise RuntimeError(
            f"installing {TAP_REQUIREMENT} into {path} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    return python


def command(
    python: Path,
    base_url: str,
    config_path: Path,
    catalog_path: Path | None,
    state_path: Path | None,
) -> list[str]:
    """The argv running singer-io's tap against ``base_url``.

    With ``catalog_path`` None it is discovery (``--discover``); otherwise a sync.
    """
    argv = [str(python), "-I", str(WRAPPER), "--base-url", base_url.rstrip("/"), "--",
            "--config", str(config_path)]
    if catalog_path is None:
        argv.append("--discover")
    else:
        argv += ["--catalog", str(catalog_path)]
    if state_path is not None:
        argv += ["--state", str(state_path)]
    return argv


def write_config(
    path: Path,
    account_sid: str,
    auth_token: str,
    start_date: str,
    base_url: str,
) -> None:
    """Write singer-io's config.

    ``base_url`` is recorded for reference only: singer-io's tap ignores it and
    the host is switched by the wrapper that ``command`` runs.
    """
    config = {
        "account_sid": account_sid,
        "auth_token": auth_token,
        "start_date": start_date,
        "user_agent": DEFAULT_USER_AGENT,
        "base_url": base_url,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")


def select_streams(catalog: dict, streams: list[str]) -> dict:
    """Mark ``streams`` selected (and every other stream unselected) in a discovered catalog."""
    wanted = set(streams)
    known = {entry["tap_stream_id"] for entry in catalog["streams"]}
    unknown = wanted - known
    if unknown:
        raise ValueError(
            f"singer-io tap-twilio has no stream(s) {sorted(unknown)}; it has {sorted(known)}"
        )
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in wanted
        for item in entry.setdefault("metadata", []):
            if item.get("breadcrumb") == []:
                item.setdefault("metadata", {})["selected"] = selected
                break
        else:
            entry["metadata"].append({"breadcrumb": [], "metadata": {"selected": selected}})
    return catalog


def discover_catalog(
    python: Path,
    base_url: str,
    config_path: Path,
    out_path: Path,
    streams: list[str],
) -> None:
    """Run singer-io's discovery and write a catalog with only ``streams`` selected."""
    proc = subprocess.run(
        command(python, base_url, config_path, None, None),
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"singer-io discovery failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    catalog = select_streams(json.loads(proc.stdout), streams)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(catalog, indent=2) + "\n")


def count_records(lines) -> dict[str, int]:
    """Count RECORD messages per stream in Singer output lines."""
    counts: collections.Counter[str] = collections.Counter()
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        message = json.loads(line)
        if message.get("type") == "RECORD":
            counts[message["stream"]] += 1
    return dict(counts)


def _smoke(args: argparse.Namespace) -> int:
    sandbox = None
    base_url, account_sid, auth_token = args.base_url, args.account_sid, args.auth_token
    if base_url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from twilio_sandbox import Sandbox  # noqa: PLC0415  # the project's fake Twilio API, only for --smoke

        sandbox = Sandbox(seed=1).start()
        base_url = sandbox.url
        account_sid, auth_token = sandbox.main_account_sid, sandbox.main_auth_token
    if not (account_sid and auth_token):
        sys.exit("--account-sid and --auth-token are required with --base-url")
    streams = [s.strip() for s in args.streams.split(",") if s.strip()]
    try:
        python = ensure_venv(Path(args.venv))
        with tempfile.TemporaryDirectory(prefix="singerio-") as tmp:
            tmp_path = Path(tmp)
            config = tmp_path / "config.json"
            catalog = tmp_path / "catalog.json"
            write_config(config, account_sid, auth_token, args.start_date, base_url)
            discover_catalog(python, base_url, config, catalog, streams)
            argv = command(python, base_url, config, catalog, None)
            stderr_path = tmp_path / "stderr.log"
            with open(stderr_path, "w") as stderr:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
                assert proc.stdout is not None
                counts = count_records(proc.stdout)
                rc = proc.wait()
            if rc != 0:
                sys.stderr.write(stderr_path.read_text()[-4000:])
                print(f"singer-io tap exited with {rc}", file=sys.stderr)
                return rc
    finally:
        if sandbox is not None:
            for name in ("stop", "close", "shutdown"):
                if callable(getattr(sandbox, name, None)):
                    getattr(sandbox, name)()
                    break
    for stream in streams:
        print(f"{stream}\t{counts.get(stream, 0)}")
    for stream in sorted(set(counts) - set(streams)):
        print(f"{stream}\t{counts[stream]}\t(not requested)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run singer-io tap-twilio 0.2.2 against a local fake Twilio API "
        "and print RECORD counts per stream.")
    parser.add_argument("--base-url", help="fake API root, e.g. http://127.0.0.1:8000 "
                        "(omitted: start twilio_sandbox.Sandbox(seed=1))")
    parser.add_argument("--account-sid")
    parser.add_argument("--auth-token")
    parser.add_argument("--streams", default="messages,calls")
    parser.add_argument("--start-date", default="2019-01-01T00:00:00Z")
    parser.add_argument("--venv", default=os.environ.get("SINGERIO_VENV", ".bench/singerio-venv"))
    return _smoke(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
