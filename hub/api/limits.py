"""Limits at the API's edge, as pure ASGI middleware that runs before authentication.

- ``BodyLimit``: a request body larger than its route's cap is refused with ``413``, from
  ``Content-Length`` before anything is read, or, for a body without one (chunked), as soon
  as the bytes received pass the cap: nothing beyond the cap is ever buffered. The 413 asks
  the client to close the connection, so the server does not go on reading the rest.
- ``RefusalGuard``: a peer address that has been refused (any 4xx) more than
  ``RefusalLimits.limit`` times in a window is answered ``429`` without running the app, and
  those answers are not audited one by one: one ``request.refused.suppressed`` entry per
  peer and window counts them. The audit log then grows by at most ``limit`` + 1 entries
  per refused peer and window, however hard it is flooded.

The peer is the client address the server reports (behind a proxy, configure the server
to take it from the proxy's header, e.g. uvicorn's ``--forwarded-allow-ips``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problems import audit_refusal, problem_response
from hub.audit import AuditEvent
from hub.auth.throttle import retry_after

TOKEN_PATH = "/oauth/token"  # noqa: S105
RECORDS_PREFIX = "/v1/records/"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Bytes a request body may hold: the token form, pushed records, anything else."""

    token: int = 1 << 20
    records: int = 8 << 20
    default: int = 64 << 10

    def cap(self, method: str, path: str) -> int:
        if path == TOKEN_PATH:
            return self.token
        if method == "POST" and path.startswith(RECORDS_PREFIX):
            return self.records
        return self.default


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its cap. An ``HTTPException``
    because FastAPI turns any other exception met while reading a body into a 400; the
    app answers it with ``too_large`` (registered as its handler)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the request body is larger than {cap} bytes")
        self.cap = cap


def too_large(request: Request, cap: int) -> Response:
    """The audited 413 problem document."""
    audit_refusal(request, 413, "too_large")
    return problem_response(
        request,
        413,
        f"the request body is larger than {cap} bytes",
        "too_large",
        {"Connection": "close"},
        limit=cap,
    )


async def too_large_handler(request: Request, exc: Exception) -> Response:
    cap = exc.cap if isinstance(exc, BodyTooLarge) else 0
    return too_large(request, cap)


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.limits.cap(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await too_large(Request(scope), cap)(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, capped, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True, slots=True)
class RefusalLimits:
    limit: int = 50
    """Refused answers a peer may get in one window before it is shut out for the rest."""
    window: float = 60.0
    """Seconds, from the peer's first refusal."""
    max_peers: int = 65_536


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Requests from ``peer`` answered 429 unaudited during one window."""

    peer: str
    count: int
    window: float


@dataclass(slots=True)
class _Window:
    start: float
    refused: int = 0
    suppressed: int = 0


class RefusalLimiter:
    """Refused answers counted per peer in fixed windows. Used from the event loop only."""

    def __init__(self, limits: RefusalLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._ended: list[Suppressed] = []
        self._swept = clock()

    def blocked(self, peer: str) -> float:
        """0 if the peer's request may run, else the seconds until its window ends (the
        request is then counted as suppressed)."""
        window = self._current(peer)
        if window is None or window.refused <= self.limits.limit:
            return 0.0
        window.suppressed += 1
        return window.start + self.limits.window - self._clock()

    def refused(self, peer: str) -> None:
        window = self._current(peer)
        if window is None:
            window = self._windows[peer] = _Window(self._clock())
            while len(self._windows) > self.limits.max_peers:
                self._end(*self._windows.popitem(last=False))
        window.refused += 1

    def ended(self) -> list[Suppressed]:
        """The windows that ended with requests suppressed, each reported once; looks at
        every peer at most once a second."""
        now = self._clock()
        if now - self._swept >= 1.0:
            self._swept = now
            for peer in [p for p, w in self._windows.items() if self._over(w, now)]:
                self._end(peer, self._windows.pop(peer))
        ended, self._ended = self._ended, []
        return ended

    def drain(self) -> list[Suppressed]:
        """Every window with requests suppressed so far, ended or not (at shutdown)."""
        for peer, window in self._windows.items():
            self._end(peer, window)
        self._windows.clear()
        ended, self._ended = self._ended, []
        return ended

    def _current(self, peer: str) -> _Window | None:
        window = self._windows.get(peer)
        if window is not None and self._over(window, self._clock()):
            self._end(peer, self._windows.pop(peer))
            return None
        return window

    def _over(self, window: _Window, now: float) -> bool:
        return now >= window.start + self.limits.window

    def _end(self, peer: str, window: _Window) -> None:
        if window.suppressed:
            self._ended.append(Suppressed(peer, window.suppressed, self.limits.window))


class RefusalGuard:
    def __init__(
        self, app: ASGIApp, limiter: RefusalLimiter, audit: Callable[[AuditEvent], object]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._report(self.limiter.ended())
        client = scope.get("client")
        peer = str(client[0]) if client else "?"
        if wait := self.limiter.blocked(peer):
            response = problem_response(
                Request(scope),
                429,
                "too many refused requests from this address",
                "refused_too_often",
                {"Retry-After": retry_after(wait)},
            )
            await response(scope, receive, send)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if 400 <= status < 500:
                self.limiter.refused(peer)

    def _flushing(self, receive: Receive) -> Receive:
        async def flushing() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self._report(self.limiter.drain())
            return message

        return flushing

    def _report(self, ended: list[Suppressed]) -> None:
        for gone in ended:
            self.audit(
                AuditEvent(
                    action="request.refused.suppressed",
                    outcome="denied",
                    detail={
                        "peer": gone.peer,
                        "count": gone.count,
                        "window_seconds": gone.window,
                        "limit": self.limiter.limits.limit,
                    },
                )
            )
