"""2010 API lists read in full each run, so rows deleted in Twilio leave the warehouse: SIP, short codes, signing
keys, queue members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.pagination import follow_pages, records_in
from tap_twilio.streams.base import Endpoint
from tap_twilio.windows import Split, Unit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from tap_twilio.page import Page


class SipCredentialLists(TwilioStream):
    """SIP credential lists; each one's credentials are its child list."""

    name = "sip_credential_lists"
    path = "/Accounts/{account_sid}/SIP/CredentialLists.json"
    list_key = "credential_lists"
    child_key = "credential_list_sid"


class SipIpAccessControlLists(TwilioStream):
    """SIP IP access control lists; each one's IP addresses are its child list."""

    name = "sip_ip_access_control_lists"
    path = "/Accounts/{account_sid}/SIP/IpAccessControlLists.json"
    list_key = "ip_access_control_lists"
    child_key = "ip_access_control_list_sid"


class QueueMembers(TwilioStream):
    """Callers waiting now in every queue of an account, read as one list (the queues stream is incremental, so
    its records cannot drive a list that must be complete each run)."""

    name = "queue_members"
    path = "/Accounts/{account_sid}/Queues/{queue_sid}/Members.json"
    list_key = "queue_members"
    primary_keys = ("queue_sid", "call_sid")

    @override
    def _source(self, unit: Unit, params: dict[str, Any]) -> Callable[[], Iterable[Page | Split]]:
        return lambda: self._member_pages(unit.context)

    def _member_pages(self, context: dict[str, Any]) -> Iterator[Page]:
        """Every page of the members of every queue with callers in it."""
        account = context["account_sid"]
        client = self.run.client_for(account, self.product)
        url = f"{self.url_base}/Accounts/{account}/Queues.json"
        params = {"PageSize": min(self.run.settings.page_size, self.page_size_max)}
        root = self.run.settings.base_url(self.product)
        for page in follow_pages(client, url, params, root=root, label=self.name):
            for queue in records_in(page, "queues", self.name):
                if queue.get("current_size"):  # an empty queue needs no request
                    yield from self.iter_pages({**context, "queue_sid": queue["sid"]}, {})


ENDPOINTS = (
    Endpoint(name="sip_domains", path="/Accounts/{account_sid}/SIP/Domains.json", list_key="domains"),
    Endpoint(
        name="sip_credentials",
        path="/Accounts/{account_sid}/SIP/CredentialLists/{credential_list_sid}/Credentials.json",
        list_key="credentials",
        parent=SipCredentialLists,
    ),
    Endpoint(
        name="sip_ip_addresses",
        path="/Accounts/{account_sid}/SIP/IpAccessControlLists/{ip_access_control_list_sid}/IpAddresses.json",
        list_key="ip_addresses",
        parent=SipIpAccessControlLists,
    ),
    Endpoint(name="short_codes", path="/Accounts/{account_sid}/SMS/ShortCodes.json"),
    Endpoint(name="signing_keys", path="/Accounts/{account_sid}/SigningKeys.json"),
)

CONFIGURATION_STREAMS: tuple[type[TwilioStream], ...] = (
    SipCredentialLists,
    SipIpAccessControlLists,
    QueueMembers,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
