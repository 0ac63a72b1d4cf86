"""Which URLs the hub will POST a partner's events to.

https only; plain http and loopback addresses only where the hub's configuration allows
them (``webhook_loopback``: tests and the demo run receivers on 127.0.0.1). Refused
always: credentials in the URL (they would sit in the database and the logs), fragments
(never sent, so a sign of a mistake), and IP literals no partner system lives at:
link-local (the cloud metadata address 169.254.169.254 among them), multicast,
unspecified and reserved ranges. Private ranges are allowed: partner systems live on
the police and government networks. A host name is not resolved here (it may point
elsewhere tomorrow); the delivery worker does not follow redirects.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from hub.events.errors import UrlRefused

MAX_URL = 2000


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_loopback: bool = False) -> str:
    """``url`` as it will be called, or ``UrlRefused`` saying why not."""
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise UrlRefused("url_syntax", f"a URL of 1 to {MAX_URL} characters, no spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("url_syntax", f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UrlRefused("url_scheme", "the URL must be https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("url_userinfo", "the URL may not carry credentials (user:pass@)")
    if parts.fragment or "#" in url:
        raise UrlRefused("url_fragment", "the URL may not have a fragment (#…)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("url_host", "the URL names no host")
    loopback = _is_loopback(host)
    if loopback and not allow_loopback:
        raise UrlRefused("url_loopback", "loopback addresses are not allowed on this hub")
    if scheme == "http" and not loopback:
        raise UrlRefused("url_scheme", "the URL must be https (http only to loopback in tests)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not loopback:
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise UrlRefused("url_address", f"the hub does not call {address}")
        if address.is_reserved:
            raise UrlRefused("url_address", f"the hub does not call {address}")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return parts._replace(scheme=scheme, netloc=netloc).geturl()
