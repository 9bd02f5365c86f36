"""The SDK's built-in tap and stream tests, run against the Twilio sandbox."""

from __future__ import annotations

from singer_sdk.testing import SuiteConfig, get_tap_test_class
from twilio_sandbox import Sandbox

from tap_twilio.tap import TapTwilio

SANDBOX = Sandbox(seed=2, subaccounts=1, days=20, sizes={"messages": 120, "calls": 60}).start()

TestTapTwilio = get_tap_test_class(
    TapTwilio,
    config=SANDBOX.tap_config(backoff_base_seconds=0.01, backoff_max_seconds=0.05),
    suite_config=SuiteConfig(max_records_limit=50),
)
