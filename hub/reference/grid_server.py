"""The reference grid platform: its share of the world behind a paged, authenticated REST API.

``GET /api/v1/{resource}`` lists rows in (``updatedAt``, key) order and pages by keyset:
a client passes back the position of the last row it saw (``updated_since`` and ``after``)
and gets the rows strictly after it, so rows sharing one timestamp are never split wrongly
across pages. Callers authenticate with an ``X-API-Key`` header or a bearer token from
``POST /oauth/token`` (OAuth 2 client credentials).

``app.state.faults`` makes the next requests fail, stall or lose their connection, for
testing clients; ``app.state.tokens`` holds the tokens issued (``revoke_all()``) and
``app.state.tables`` the rows served, by resource (``put`` adds or changes one).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import datetime as dt
import secrets
import threading
import time
from collections import deque
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.types import ASGIApp, Receive, Scope, Send

KEYS = {"residents": "id", "addresses": "addressCode", "events": "eventNo", "houses": "houseCode"}
"""The primary key of each resource the grid platform shares."""
CURSOR = "updatedAt"
MAX_LIMIT = 500
TOKEN_TTL = 300.0
REALM = "grid-platform"

Key = int | str
Position = tuple[dt.datetime, Key]


class Table:
    """One resource's rows, kept sorted by (updatedAt, key) for keyset paging.

    Tests may ``put`` rows while the server runs (a lock keeps pages consistent).
    """

    def __init__(self, name: str, key: str, rows: list[dict[str, Any]]) -> None:
        self.name = name
        self.key = key
        self._positions: list[Position] = []
        self._rows: list[dict[str, Any]] = []
        self._where: dict[Key, Position] = {}
        self._key_type: type[int] | type[str] | None = None
        self._lock = threading.Lock()
        for row in rows:
            self.put(row)

    def put(self, row: dict[str, Any]) -> None:
        """Add a row, or replace the one with its key (which then moves to its new place)."""
        with self._lock:
            position = self._position(row)
            old = self._where.get(position[1])
            if old is not None:
                index = bisect.bisect_left(self._positions, old)
                del self._rows[index], self._positions[index]
            self._where[position[1]] = position
            index = bisect.bisect_right(self._positions, position)
            self._positions.insert(index, position)
            self._rows.insert(index, dict(row))

    def parse_key(self, text: str) -> Key:
        return int(text) if self._key_type is int else text

    def page(
        self, since: dt.datetime | None, after: Key | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` rows after the position, and whether more follow."""
        with self._lock:
            if since is None:
                start = 0
            elif after is None:
                start = bisect.bisect_right(self._positions, since, key=lambda p: p[0])
            else:
                start = bisect.bisect_right(self._positions, (since, after))
            rows = self._rows[start : start + limit]
            return rows, start + limit < len(self._rows)

    def _position(self, row: dict[str, Any]) -> Position:
        key = row.get(self.key)
        if not isinstance(key, int | str) or isinstance(key, bool):
            raise ValueError(f"{self.name}: a row without a usable {self.key!r}: {key!r}")
        if self._key_type is None:
            self._key_type = type(key)
        elif not isinstance(key, self._key_type):
            raise ValueError(f"{self.name}: {self.key!r} mixes int and str values")
        try:
            updated = dt.datetime.fromisoformat(row[CURSOR])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{self.name} {key}: no ISO-8601 {CURSOR!r}") from None
        if updated.tzinfo is None:
            raise ValueError(f"{self.name} {key}: {CURSOR!r} has no UTC offset")
        return updated, key


class Faults:
    """Faults for the next requests, in the order they were asked for (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, float]] = deque()
        self.requests = 0
        """Requests received, faulty ones included."""

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After: 0``)."""
        self._add("fail", n, status)

    def drop_next(self, n: int = 1) -> None:
        """Start answering the next ``n`` requests, then close the connection mid-body."""
        self._add("drop", n, 0)

    def delay_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """Answer the next ``n`` requests only after ``seconds`` (to trip read timeouts)."""
        self._add("delay", n, seconds)

    def clear(self) -> None:
        """Drop the faults still pending and reset the request count."""
        with self._lock:
            self._queue.clear()
            self.requests = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def take(self) -> tuple[str, float] | None:
        with self._lock:
            self.requests += 1
            return self._queue.popleft() if self._queue else None

    def _add(self, fault: str, n: int, argument: float) -> None:
        with self._lock:
            self._queue.extend([(fault, argument)] * n)


class FaultInjection:
    """ASGI middleware applying ``Faults`` before the request reaches the app."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.faults.take() if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        kind, argument = fault
        if kind == "delay":
            await asyncio.sleep(argument)
            await self.app(scope, receive, send)
        elif kind == "fail":
            body = b'{"detail": "injected fault"}'
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"0"),
            ]
            await send({"type": "http.response.start", "status": int(argument), "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            # A response the app never completes: the server has to close the connection,
            # and the client sees it cut off mid-body.
            headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})


class Tokens:
    """Opaque bearer tokens issued by the token endpoint, kept in memory."""

    def __init__(self, ttl: float = TOKEN_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
            self._expiry[token] = now + self.ttl
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()

    def revoke_all(self) -> None:
        with self._lock:
            self._expiry.clear()


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def _oauth_error(status: int, error: str, description: str, basic: bool = False) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if basic:
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return client_id, secret


def _client_known(clients: dict[str, str], client_id: str | None, secret: str | None) -> bool:
    known = clients.get(client_id or "")
    return known is not None and secret is not None and secrets.compare_digest(secret, known)


def create_app(
    data: dict[str, list[dict[str, Any]]],
    api_keys: set[str],
    clients: dict[str, str],
    *,
    keys: dict[str, str] | None = None,
    token_ttl: float = TOKEN_TTL,
) -> FastAPI:
    """The grid platform serving ``data`` (resource -> rows; ``keys`` names each
    resource's primary key, by default ``KEYS``), open to holders of one of ``api_keys``
    and to the OAuth ``clients`` (client_id -> secret)."""
    keys = {**KEYS, **(keys or {})}
    missing = sorted(set(data) - set(keys))
    if missing:
        raise ValueError(f"no primary key named for {', '.join(missing)}")
    tables = {name: Table(name, keys[name], rows) for name, rows in data.items()}
    tokens = Tokens(token_ttl)
    faults = Faults()

    app = FastAPI(title="Grid platform (reference)", docs_url=None, redoc_url=None)
    app.state.tables = tables
    app.state.tokens = tokens
    app.state.faults = faults
    app.add_middleware(FaultInjection, faults=faults)

    async def authenticate(request: Request) -> None:
        api_key = request.headers.get("x-api-key")
        if api_key is not None:
            if not any(secrets.compare_digest(api_key, known) for known in api_keys):
                raise _unauthorized("unknown API key")
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("send an X-API-Key header or an OAuth bearer token")
        if not tokens.valid(token.strip()):
            raise _unauthorized("the access token is invalid or has expired", "invalid_token")

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "send a form-urlencoded body")
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        basic = _basic_credentials(request.headers.get("authorization", ""))
        posted = (form.get("client_id"), form.get("client_secret"))
        if basic is not None and posted[0] is not None:
            return _oauth_error(400, "invalid_request", "use one client authentication method")
        client_id, secret = basic if basic is not None else posted
        if basic is not None and not _client_known(clients, client_id, secret):
            # RFC 6749 2.3.1 has clients form-urlencode both parts; many do not.
            client_id, secret = unquote_plus(basic[0]), unquote_plus(basic[1])
        if not _client_known(clients, client_id, secret):
            return _oauth_error(
                401, "invalid_client", "client authentication failed", basic is not None
            )
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
        body = {
            "access_token": tokens.issue(),
            "token_type": "Bearer",
            "expires_in": int(token_ttl),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/api/v1/{resource}", dependencies=[Depends(authenticate)])
    async def list_rows(
        resource: str,
        updated_since: AwareDatetime | None = None,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        table = tables.get(resource)
        if table is None:
            raise HTTPException(404, f"no resource {resource!r}")
        if after is not None and updated_since is None:
            raise HTTPException(400, "'after' needs 'updated_since'")
        try:
            key = None if after is None else table.parse_key(after)
        except ValueError:
            raise HTTPException(400, f"'after' is not a {table.key}") from None
        rows, more = table.page(updated_since, key, limit)
        last = rows[-1] if rows else None
        following: dict[str, Any] | None = None
        if more and last is not None:
            following = {"updated_since": last[CURSOR], "after": last[table.key]}
        return {"items": rows, "next": following}

    return app
