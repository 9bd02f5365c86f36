"""tap-twilio: a Singer tap for Twilio on the Meltano Singer SDK."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tap-twilio-sdk")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
