"""Run singer-io's ``tap-twilio`` 0.2.2 against another base URL.

Usage (under the python of the virtualenv that has ``tap-twilio==0.2.2``)::

    python -I singerio_wrapper.py --base-url http://127.0.0.1:PORT -- \
        --config config.json [--catalog catalog.json] [--state state.json]
    python -I singerio_wrapper.py --base-url http://127.0.0.1:PORT -- \
        --config config.json --discover

singer-io's tap hard-codes its hosts in two places, both of which are
rewritten here before ``tap_twilio.main()`` runs:

* ``tap_twilio.client.API_URL`` (``https://api.twilio.com``): the client joins
  it with ``API_VERSION`` in ``TwilioClient.__init__`` and uses it for the
  ``Accounts.json`` access check made on entering the client (also in
  ``--discover`` mode).
* the ``api_url`` key of every entry of ``tap_twilio.streams.STREAMS``
  (``https://api.twilio.com`` for the v2010 streams, nested children and
  grandchildren included, and ``https://monitor.twilio.com`` for ``alerts``):
  ``sync_endpoint`` builds each first-page URL from it and prefixes every
  ``next_page_uri`` (a path) with it.

This file imports nothing but the standard library and the installed tap;
run it with ``-I`` so that neither the script's folder nor ``PYTHONPATH`` can
shadow the installed ``tap_twilio`` with this project's package of the same
name.
"""

from __future__ import annotations

import sys
from importlib import metadata

EXPECTED_VERSION = "0.2.2"
ORIGINAL_HOSTS = ("https://api.twilio.com", "https://monitor.twilio.com")


def _patch_streams(streams: dict, base_url: str) -> int:
    """Point every ``api_url`` in the (nested) STREAMS dict at ``base_url``."""
    count = 0
    for config in streams.values():
        api_url = config.get("api_url")
        if api_url is not None:
            if api_url not in ORIGINAL_HOSTS:
                raise RuntimeError(f"unexpected api_url in tap_twilio.streams: {api_url!r}")
            config["api_url"] = base_url
            count += 1
        children = config.get("children")
        if children:
            count += _patch_streams(children, base_url)
    return count


def patch(base_url: str) -> None:
    """Rewrite the installed tap's host constants to ``base_url``."""
    version = metadata.version("tap-twilio")
    if version != EXPECTED_VERSION:
        raise RuntimeError(f"expected tap-twilio {EXPECTED_VERSION}, found {version}")

    from tap_twilio import client, streams  # noqa: PLC0415  # singer-io's package, imported to be patched

    if client.API_URL != ORIGINAL_HOSTS[0]:
        raise RuntimeError(f"unexpected tap_twilio.client.API_URL: {client.API_URL!r}")
    client.API_URL = base_url
    patched = _patch_streams(streams.STREAMS, base_url)
    if patched == 0:
        raise RuntimeError("found no api_url to patch in tap_twilio.streams.STREAMS")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "--base-url":
        sys.exit("usage: singerio_wrapper.py --base-url URL [--] TAP-ARGS...")
    base_url = argv[1].rstrip("/")
    rest = argv[2:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    patch(base_url)

    import tap_twilio  # noqa: PLC0415  # singer-io's package, after patch()

    sys.argv = ["tap-twilio", *rest]
    tap_twilio.main()


if __name__ == "__main__":
    main(sys.argv[1:])
