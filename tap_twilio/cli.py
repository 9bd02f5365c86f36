"""The `tap-twilio` command (and `python -m tap_twilio`): the process's garbage-collector policy, then the tap."""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 50_000  # container allocations between young collections (Python's default is 700)


def main() -> None:
    """Run the tap's command line with the cyclic garbage collector running rarely.

    Importing the SDK builds some 200,000 long-lived objects, and a sync builds pages of records that reference
    counting frees (they form no cycles). At Python's default the collector runs every 700 allocations and its
    older generations walk all of them again. Measured with gc.callbacks on benchmark scenario 1 (100,000
    messages): 354 collections took 0.14-0.22 CPU s; with this policy 22 took 0.02 s. The threshold is raised
    before the SDK is imported, and what start-up built is frozen out of later collections.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    from tap_twilio.tap import TapTwilio  # noqa: PLC0415  # after the policy: the import is most of start-up

    gc.freeze()
    TapTwilio.cli()
