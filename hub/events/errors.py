"""Errors of the events package.

A subscription request refused through the API raises the sharing service's errors
(``hub.sharing.errors``: ``Denied`` 403, ``InvalidRequest`` 400, ``NotFound`` 404), each
carrying its audit event, so the one problem handler maps and audits them. Below are
the package's own, raised before a request is judged or at the operator's CLI:

EventsError (HubError)
 ├── UrlRefused      a subscriber URL the hub will not call; ``reason`` a stable word:
 │                   url_syntax, url_scheme, url_userinfo, url_fragment, url_host,
 │                   url_loopback, url_address, url_resolve (at delivery: ``pin``)
 └── NoSuchDelivery  ``hub webhooks replay`` named no delivery or event the store holds
"""

from __future__ import annotations

from hub.errors import HubError


class EventsError(HubError):
    pass


class UrlRefused(EventsError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoSuchDelivery(EventsError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no delivery or event {ref!r}")
        self.ref = ref
