"""Which URLs the hub will POST a partner's events to.

https only; plain http and loopback addresses only where the hub's configuration allows
them (``webhook_loopback``: tests and the demo run receivers on 127.0.0.1). Refused
always: credentials in the URL (they would sit in the database and the logs), fragments
(never sent, so a sign of a mistake), and IP literals no partner system lives at:
link-local (the cloud metadata address 169.254.169.254 among them), multicast,
unspecified and reserved ranges. Private ranges are allowed: partner systems live on
the police and government networks. A host name is not resolved by ``check_url`` (it may
point elsewhere tomorrow): ``pin`` resolves it at each delivery, refuses it when any of
its addresses is one the hub never calls (a name rebound to 127.0.0.1 or to the metadata
address), and gives the address to connect to, so the check and the connection see the
same address. The delivery worker does not follow redirects.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub.events.errors import UrlRefused

MAX_URL = 2000

Resolver = Callable[[str, int], list[str]]
"""A host name and port to the addresses to connect to, in order."""


def resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Target:
    """Where one delivery connects: ``url`` names the checked address in place of the
    host; ``host`` is the ``Host`` header and ``server_name`` the TLS name (SNI and the
    certificate's), both the partner's own name."""

    url: str
    host: str
    server_name: str


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
    if address is not None and not loopback and _never_called(address):
        raise UrlRefused("url_address", f"the hub does not call {address}")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


def pin(url: str, *, allow_loopback: bool = False, resolver: Resolver = resolve) -> Target:
    """``url`` checked again (``check_url``) and its host resolved now: the address to
    connect to, or ``UrlRefused`` when the name does not resolve or any of its addresses is
    loopback (unless allowed), link-local, multicast, unspecified or reserved."""
    parts = urlsplit(check_url(url, allow_loopback=allow_loopback))
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        raise UrlRefused("url_resolve", f"{host} does not resolve") from None
    if not addresses:
        raise UrlRefused("url_resolve", f"{host} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text)
        if (address.is_loopback and not allow_loopback) or _never_called(address):
            raise UrlRefused(
                "url_address", f"{host} resolves to {address}: the hub does not call it"
            )
    first = addresses[0]
    literal = f"[{first}]" if ":" in first else first
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return Target(parts._replace(netloc=netloc).geturl(), parts.netloc, host)


def _never_called(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )
