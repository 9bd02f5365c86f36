"""The engine's shape and the command line's manners: layers, SDK hooks, the lean path, errors, logs, resume."""

from __future__ import annotations

import ast
import base64
import copy
import datetime as dt
import itertools
import json
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import discover, error_lines, run_tap, select
from exact import assert_exact
from twilio_sandbox import Sandbox

from tap_twilio.client import TwilioStream
from tap_twilio.tap import TapTwilio

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tap_twilio"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_stream_layer_never_imports_the_tap_and_the_pipeline_knows_no_twilio() -> None:
    parts = ["stream_base", "bookmarks", "children", "versions", "lists", "client"]  # each imports only earlier ones
    layer = [PACKAGE / "run.py", *(PACKAGE / f"{p}.py" for p in parts), *sorted((PACKAGE / "streams").glob("*.py"))]
    for module in layer:
        assert "tap_twilio.tap" not in imports_of(module), module
    for index, part in enumerate(parts):
        later = {f"tap_twilio.{p}" for p in parts[index + 1 :]}
        assert not imports_of(PACKAGE / f"{part}.py") & later, f"{part} imports a part built on it"
    for module in PACKAGE.rglob("*.py"):
        assert len(module.read_text().splitlines()) <= 430, f"{module.name}: a module holds one job"
    assert not any(name.startswith("tap_twilio") for name in imports_of(PACKAGE / "pipeline.py"))
    ours = {name for name in imports_of(PACKAGE / "prefetch.py") if name.startswith("tap_twilio")}
    assert ours <= {"tap_twilio.pipeline"}, "child lists fetched ahead know no Twilio either"
    assert not any("sandbox" in name for path in PACKAGE.rglob("*.py") for name in imports_of(path))


def test_streams_read_shared_state_through_one_run_object() -> None:
    tap = TapTwilio(config={"account_sid": "AC" + "0" * 32, "auth_token": "x"}, parse_env_config=False)
    runs = {id(stream.run) for stream in tap.streams.values()}  # type: ignore[attr-defined]
    assert runs == {id(tap.run)}
    parts = ["stream_base", "bookmarks", "children", "versions", "lists", "client"]
    source = "\n".join(
        p.read_text() for p in [*(PACKAGE / f"{p}.py" for p in parts), *(PACKAGE / "streams").glob("*.py")]
    )
    assert "self.tap." not in source and "self._tap." not in source


@pytest.mark.parametrize(
    "hook", ["authenticator", "requests_session", "validate_response", "backoff_max_tries", "get_new_paginator"]
)
def test_sdk_request_hooks_the_tap_does_not_use_raise_instead_of_being_ignored(hook: str) -> None:
    tap = TapTwilio(config={"account_sid": "AC" + "0" * 32, "auth_token": "x"}, parse_env_config=False)
    stream = tap.streams["messages"]
    with pytest.raises(NotImplementedError, match=r"SyncRun\.client_for"):
        value = getattr(stream, hook)
        value()


def test_the_lean_record_path_writes_the_same_bytes_as_the_sdk_path() -> None:
    with Sandbox(seed=1, days=5, sizes={"messages": 30}) as sb:
        tap = TapTwilio(config=sb.tap_config(), parse_env_config=False)
        writer = tap.message_writer
        stamp = re.compile(rb'"time_extracted":"[0-9T:.-]+Z"')
        for name in ("messages", "calls", "usage_records", "accounts"):
            stream = tap.streams[name]
            assert stream._lean  # type: ignore[attr-defined]
            sdk_page = b""
            # one read of the expected records: today's usage records carry the sandbox's clock ("as_of"), which moves
            raws = sb.expected(name)[:20]
            for raw in raws:
                record = stream._convert(copy.deepcopy(raw))  # type: ignore[attr-defined]
                writer.take_pending()
                stream._write_record_message(dict(record))
                lean = writer.take_pending()
                stream.__dict__["_lean"] = False
                stream._write_record_message(dict(record))
                sdk = writer.take_pending()
                sdk_page += sdk
                stream.__dict__["_lean"] = True
                assert stamp.search(lean) and stamp.search(sdk)
                assert stamp.sub(b"T", lean) == stamp.sub(b"T", sdk), name
            # a page's records, encoded many to a call (4 x 20 records: more than one call), are the same lines
            page = [stream._convert(copy.deepcopy(raw)) for raw in raws] * 4  # type: ignore[attr-defined]
            for version in (None, 1765000000):
                writer.take_pending()
                writer.write_records(name, page, version)
                expected = sdk_page * 4
                if version is not None:
                    expected = expected.replace(b',"time', b',"version":1765000000,"time')
                assert stamp.sub(b"T", writer.take_pending()) == stamp.sub(b"T", expected), name
        writer.take_pending()


def test_a_state_is_written_when_it_changed_whichever_writer_asks(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    # the SDK's StateWriter (sync start, stream ends) compared the whole state with a deep copy of the last one: the
    # tap's compares the encoded line, shared with the checkpoints' writes
    with Sandbox(seed=1, days=5, sizes={"messages": 3}) as sb:
        tap = TapTwilio(config=sb.tap_config(), parse_env_config=False)
        writer = tap.message_writer
        capsysbinary.readouterr()
        state = {"bookmarks": {"messages": {"partitions": [{"context": {"account_sid": "AC1"}}]}}}
        tap.state_writer.write_state(state)
        assert writer.write_state(state) == 0
        tap.state_writer.write_state(copy.deepcopy(state))
        state["bookmarks"]["messages"]["partitions"][0]["replication_key_value"] = "2026-01-01T00:00:00+00:00"
        assert writer.write_state(state) > 0
        tap.state_writer.write_state(state)
        lines = [json.loads(line) for line in capsysbinary.readouterr().out.decode().splitlines()]
        assert [m["type"] for m in lines] == ["STATE", "STATE"]
        assert lines[1]["value"] == state


def sync_in_process(
    config: dict[str, Any], capsysbinary: pytest.CaptureFixture[bytes], started: dt.datetime
) -> list[dict[str, Any]]:
    """Every message of one in-process sync of every stream, on a given clock; the SDK's own stamps masked."""
    tap = TapTwilio(config=config, parse_env_config=False)
    tap.run.set_clock(started)
    tap.run.sync_clock = lambda: None  # type: ignore[method-assign]  # the clock stays pinned (not Twilio's Date)
    tap.sync_all()
    text = capsysbinary.readouterr().out.decode()
    text = re.sub(r'"replication_key_signpost":"[^"]+"', '"replication_key_signpost":"NOW"', text)
    messages = [json.loads(line) for line in text.splitlines()]
    for message in messages:
        message.pop("time_extracted", None)
        message.pop("version", None)
    return messages


def test_the_page_loop_writes_the_messages_of_the_sdk_loop_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Sandbox(seed=3, days=12, subaccounts=1, now=now - dt.timedelta(minutes=1)) as sb:
        config = sb.tap_config()
        paged = sync_in_process(config, capsysbinary, now)
        monkeypatch.setattr(TwilioStream, "page_loop", False)
        per_record = sync_in_process(config, capsysbinary, now)
    # STATE is written when a checkpoint finds it due, which depends on timing: its last value must agree
    assert [m for m in paged if m["type"] != "STATE"] == [m for m in per_record if m["type"] != "STATE"]
    assert [m for m in paged if m["type"] == "STATE"][-1] == [m for m in per_record if m["type"] == "STATE"][-1]
    for messages in (paged, per_record):  # a STATE is never the same as the one before it
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        assert all(a != b for a, b in itertools.pairwise(states))
    records = {m["stream"] for m in paged if m["type"] == "RECORD"}
    with_children = {"message_media", "conference_participants", "sip_credentials", "conversation_messages"}
    assert {"messages", *with_children} <= records
    assert any(m["type"] == "ACTIVATE_VERSION" for m in paged)


def test_a_selected_stream_the_tap_does_not_have_is_one_clear_error(sandbox, config, tmp_path) -> None:
    catalog = select(discover(tmp_path, config), {"messages"})
    typo = copy.deepcopy(next(e for e in catalog["streams"] if e["tap_stream_id"] == "messages"))
    typo["tap_stream_id"] = typo["stream"] = "mesages"
    catalog["streams"].append(typo)
    run = run_tap(tmp_path, config, catalog=catalog, check=False)
    assert run.returncode == 1
    assert run.stdout == ""
    assert [line for line in error_lines(run.stderr)] == [
        line for line in error_lines(run.stderr) if "mesages" in line and "does not have" in line
    ]
    assert len(error_lines(run.stderr)) == 1
    assert sandbox.stats.total == 0


def test_a_missing_config_file_is_one_line(tmp_path) -> None:
    run = run_tap(tmp_path, {}, args=("--config", str(tmp_path / "nope.json")), check=False)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(error_lines(run.stderr)) == 1 and "nope.json" in run.stderr


def test_a_missing_account_sid_is_said_once_without_a_misleading_trailer(sandbox, config, tmp_path) -> None:
    bad = {k: v for k, v in config.items() if k != "account_sid"}
    run = run_tap(tmp_path, bad, check=False)
    assert run.returncode == 1
    assert error_lines(run.stderr) == [line for line in error_lines(run.stderr) if "account_sid is required" in line]
    assert len(error_lines(run.stderr)) == 1
    assert "Config validation failed" not in run.stderr


def test_a_bad_state_file_does_not_blame_the_config(sandbox, config, tmp_path) -> None:
    run = run_tap(tmp_path, config, state={"version": 3}, check=False)
    assert run.returncode == 1
    assert "unknown state format" in run.stderr
    assert "Config" not in run.stderr and "config" not in " ".join(error_lines(run.stderr))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "https://api.nowhere.invalid"])
def test_an_unreachable_api_fails_fast_naming_the_url_and_the_reason(tmp_path, url) -> None:
    config = {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "x",
        "api_url": url.format(port=free_port()),
        "connect_timeout_seconds": 2,
    }
    started = time.monotonic()
    run = run_tap(tmp_path, config, check=False)
    elapsed = time.monotonic() - started
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    host = config["api_url"]
    assert f"cannot reach {host}/2010-04-01/Accounts.json" in line
    assert "ConnectionRefusedError" in line or "gaierror" in line
    assert elapsed < 20, f"took {elapsed:.1f}s"


def test_transient_faults_after_the_host_answered_are_still_retried(sandbox, config, tmp_path) -> None:
    sandbox.faults.rate_reset = 0.2
    sandbox.faults.seed = 7
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"calls"}))
    assert len(run.records["calls"]) == len(sandbox.expected("calls"))


def test_logs_are_quiet_by_default_and_metrics_come_back_on_request(sandbox, config, tmp_path) -> None:
    catalog = select(discover(tmp_path, config), {"messages", "message_media"})
    quiet = run_tap(tmp_path, config, catalog=catalog)
    assert "METRIC" not in quiet.stderr
    assert re.search(r"messages AC\w+: \d+ records$", quiet.stderr, re.MULTILINE)
    assert "Requests: " in quiet.stderr and "Requests by stream: " not in quiet.stderr  # at DEBUG
    loud = run_tap(tmp_path, config, catalog=catalog, env={"TAP_TWILIO_METRICS_LOG_LEVEL": "INFO"})
    assert loud.stderr.count("METRIC") > 10


def test_connection_test_does_not_alarm(sandbox, config, tmp_path) -> None:
    run = run_tap(tmp_path, config, args=("--test",), check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ERROR" not in run.stderr
    assert "unhandled" not in run.stderr


def test_the_closing_state_has_no_resume_marker(sandbox, config, tmp_path) -> None:
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"calls", "queues"}))
    assert "progress" in json.dumps(run.states[1:-1])
    assert "progress" not in run.state


class ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy: it is sent the absolute URL, forwards the request with its headers, returns the answer
    (given an `upstream`, it is that host's front instead: it is sent paths)."""

    seen: list[str] = []  # noqa: RUF012  # the URLs it forwarded, for the test to read
    upstream = ""
    credentials = ""  # user:password it asks for, if any (HTTP 407 without them)
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # http.server's name
        if (
            self.credentials
            and self.headers.get("Proxy-Authorization")
            != "Basic " + base64.b64encode(self.credentials.encode()).decode()
        ):
            self.send_response(407)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).seen.append(self.path)
        url = self.upstream + self.path if self.path.startswith("/") else self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection", "proxy-connection"}}
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(urllib.request.Request(url, headers=headers), timeout=30) as answer:
                status, answer_headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, body = error.code, error.headers, error.read()
        self.send_response(status)
        for key, value in answer_headers.items():
            if key.lower() not in {"transfer-encoding", "connection", "content-length", "date", "server"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        return


def test_requests_go_through_the_environments_proxy_with_its_credentials_unless_no_proxy_names_the_host(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        catalog = select(discover(tmp_path, config), {"messages", "calls"})
        ForwardingProxy.credentials = "tap user:p@ss word"  # the proxy asks for these; the URL quotes them
        proxy = f"http://tap%20user:p%40ss%20word@127.0.0.1:{server.server_port}"
        through = {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
        for env, proxied in ((through, True), ({**through, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}, False)):
            ForwardingProxy.seen.clear()
            run = run_tap(tmp_path, config, catalog=catalog, env=env)
            assert len(run.records["messages"]) == len(sandbox.expected("messages"))
            assert len(run.records["calls"]) == len(sandbox.expected("calls"))
            assert "p@ss" not in run.stderr and "p%40ss" not in run.stderr
            if proxied:
                assert len(ForwardingProxy.seen) > 10
                assert all(url.startswith(config["api_url"] + "/2010-04-01/Accounts") for url in ForwardingProxy.seen)
            else:
                assert ForwardingProxy.seen == []
    finally:
        ForwardingProxy.credentials = ""
        server.shutdown()
        server.server_close()


def test_https_is_verified_against_certifi_or_the_bundle_the_environment_names(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    front = type("Front", (ForwardingProxy,), {"upstream": config["api_url"], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), front)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        https = {**config, "api_url": f"https://127.0.0.1:{server.server_port}", "max_retries": 3}
        catalog = select(discover(tmp_path, https), {"messages"})
        no_bundle = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}
        refused = run_tap(tmp_path, https, catalog=catalog, env=no_bundle, check=False)
        assert refused.returncode == 1  # certifi's bundle does not know this certificate: no retry, one line
        (line,) = error_lines(refused.stderr)
        assert f"cannot reach {https['api_url']}/2010-04-01/Accounts.json: SSLCertVerificationError" in line
        assert "certificate verify failed" in line and "REQUESTS_CA_BUNDLE" in line
        assert "Retrying" not in refused.stderr
        run = run_tap(tmp_path, https, catalog=catalog, env={**no_bundle, "REQUESTS_CA_BUNDLE": str(cert)})
        assert len(run.records["messages"]) == len(sandbox.expected("messages"))
        assert len(front.seen) > 3
    finally:
        server.shutdown()
        server.server_close()


def test_gzip_compressed_pages_are_read_as_twilio_sends_them_to_a_client_that_accepts_them(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.gzip_responses = True
    catalog = select(discover(tmp_path, config), {"messages", "message_media", "calls", "conferences"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert sandbox.gzipped > 10  # the tap asked for gzip, and was sent compressed pages
    records = assert_exact(sandbox, run.stdout, config["start_date"])
    assert set(records) == {"messages", "message_media", "calls", "conferences"}
