"""A realistic local fake of the Twilio REST API (v2010 + Monitor v1 Alerts) for tests and benchmarks.

Self-contained: imports nothing from singer_sdk or the rest of tap_twilio (it also runs as its own process:
``python -m twilio_sandbox`` / ``tap-twilio-sandbox``).

    from twilio_sandbox import Sandbox, Faults, ScriptedFault
    with Sandbox(seed=1) as sb:
        config = sb.tap_config()

Behaviour worth knowing (all like Twilio unless noted):

* Lists are newest first by (main date, sid): messages by ``date_sent`` (a never-sent message, ``date_sent`` null,
  sorts and filters by ``date_created``), calls by ``start_time``, everything else by ``date_created``, usage rows by
  ``start_date`` (then category, descending). ``next_page_uri`` is relative, repeats every filter and carries
  ``PageToken=PA<last sid>`` (usage: ``PA<YYYY-MM-DD>_<category>``); paging is keyset, so records added while paging
  never shift later pages. ``previous_page_uri`` uses ``PB<first sid>``.
* v2010 date filters are day-granular and inclusive (``X>=D``, ``X<=D`` includes all of day D, ``X=D``); a full ISO
  timestamp counts by its date part; a null filter field falls back to ``date_created``; bad dates -> 400/20001;
  ``DateSent>=``/``DateCreated>=`` (messages, recordings) older than 400 days -> 400/20004, and such records are hidden.
* Conferences without ``Status`` list only ``in-progress``; participants exist only for live (in-progress/init)
  conferences. Messages: ~10 % have 1-3 media; ~1.5 % never sent. Calls in the last hour may be ``in-progress``
  with null ``end_time``/``duration``/``price``.
* Usage ``Daily.json``: one row per category (sms, calls, recordings, phonenumbers, totalprice) per day from the
  account's ``date_created`` to today; ``IncludeSubaccounts`` defaults to true (main rows then include subaccounts);
  a ``StartDate`` before the account's creation day answers 404/20404 (``usage_404_before_created=False`` to disable).
* Alerts: each account's own (a subaccount's need its own credentials); only the last 30 days are visible;
  ``StartDate`` more than 30 days back -> 400/20001; urls are absolute.
* Notifications (``MessageDate`` day filters, ``Log`` 0 errors / 1 warnings) are newest first by ``message_date``.
  SIP domains, credential lists (-> ``Credentials``), IP access control lists (-> ``IpAddresses``), short codes and
  signing keys are full-table lists; an entry is created after its list. Queue members are the callers waiting now
  (``current_size`` of the queue), by position, identified by ``queue_sid`` + ``call_sid``; ``wait_time`` counts to
  the fixed clock (``now``/``set_now``) or to the sandbox's creation.
* Deletes: ``sb.delete_record("recordings", sid)`` soft-deletes (status "deleted", ``date_updated`` now), listed only
  with ``IncludeSoftDeleted=true`` for 40 days; ``sizes["deleted_recordings"]`` (3) recent recordings per account
  start out soft-deleted. Any other SID resource is hard-deleted (a list takes its entries with it); queue members
  leave by call sid. ``sb.expected("recordings", include_soft_deleted=True)`` lists the deleted ones too.
* Auth: account sid + token; a subaccount's own sid + token (that account only); main/standard API keys
  (``sb.api_keys``); a standard key gets 403/20003 on Accounts and Keys; a key of the main account gets 403/20003
  on a subaccount's resources (the main account's auth token reaches them). Suspended account -> 403/20005,
  closed -> 404/20404, ``sb.forbidden_accounts`` -> 403/20003.
"""

from .core import ApiError, Sandbox, Stats
from .faults import Faults, ScriptedFault

__all__ = ["ApiError", "Faults", "Sandbox", "ScriptedFault", "Stats"]
