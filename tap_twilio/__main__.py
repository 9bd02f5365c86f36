"""python -m tap_twilio."""

from tap_twilio.cli import main

main()
