"""A declarative HTTP JSON source: every stream described in ``sources.yaml``, no code.

Like Airbyte's declarative streams, a stream says where its rows are and how to page::

    connector: http
    config:
      base_url: https://zz.example.gov.cn
      auth: {type: token, url: /api/auth/token, body: {appKey: hub, appSecret: "${GRID_SECRET}"},
             token_path: data.token, header: X-Access-Token, prefix: ""}
      page_size: 100
      streams:
        - name: residents
          kind: person
          primary_key: id
          cursor_field: updateTime
          path: /openapi/residents/list
          records: data.list                # where the rows are in the answer
          paging: {style: page_number, page_param: page, size_param: pageSize}
          incremental: {param: updateTimeStart, format: "%Y-%m-%d %H:%M:%S"}
          mapping: {...}

Paging styles (``paging.style``):

- ``keyset``: the request names the last row read (``since_param`` = its cursor,
  ``after_param`` = its key) and the answer's ``next_path`` is null on the last page. The
  state is that position: the exact style, rows sharing a cursor value are never split.
- ``page_number`` / ``offset``: ``page_param`` counts pages from ``start`` (``offset_param``
  counts rows); a page shorter than the page size, an empty one, or the ``total_path``
  reached ends the read.
- ``cursor``: the answer's ``cursor_path`` holds an opaque token sent back as
  ``cursor_param``; ``next_link``: the answer's ``next_path`` holds the next page's URL.

Incremental streams (``cursor_field`` and ``incremental``, every style but keyset) send the
highest cursor value of the previous read as ``incremental.param`` (formatted with
``format``: ``iso``, ``epoch``, ``epoch_ms`` or a strftime pattern). APIs filter on ``>=``,
so the state also keeps the keys read at that value, and they are not handed out twice. A
read's state within it names the page to ask for next, so a killed sync resumes exactly.

Auth (``auth.type``): ``api_key`` (a header, ``X-API-Key`` by default: any custom header),
``oauth`` (OAuth 2 client credentials, a bearer token) or ``token`` (a token endpoint that
answers some JSON; the token found at ``token_path`` goes into ``header`` after ``prefix``).
``headers`` adds fixed headers to every request. Secrets may be ``${VAR}`` references.

Each request is retried on transient failures (429/408/502/503/504, connection errors,
timeouts, connections dropped mid-response); the last ``TransientError`` propagates when the
retries run out. Anything else (rejected credentials, unknown path, an answer without rows
where ``records`` says) is a ``FatalError``; every error names the source and stream.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from abc import abstractmethod
from collections.abc import Generator, Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import quote

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.sdk import (
    Batch,
    ConfigurationError,
    ConnectorError,
    FatalError,
    RetryConfig,
    Source,
    State,
    Stream,
    StreamConfig,
    TransientError,
    parse_config,
    retrying,
)

TRANSIENT_STATUS = frozenset({408, 429, 502, 503, 504})
MAX_PAGE_SIZE = 500
CST = dt.timezone(dt.timedelta(hours=8))
"""The zone of a source's cursor values written without an offset (China Standard Time)."""
Key = int | str
Page = tuple[list[dict[str, Any]], Any]
"""A page's rows and what the answer says of the next page (a token, a URL, a position)."""


def _http_url(value: str) -> str:
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Path = Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./{}-]*$")]
"""A path under ``base_url`` (never ``..`` elsewhere: checked in ``HttpStreamConfig``)."""
Dotted = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]
"""A path into the answer, ``data.list``; empty: the answer itself."""


def dig(body: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``body``; KeyError if a step is missing."""
    for step in path.split(".") if path else ():
        if not isinstance(body, dict) or step not in body:
            raise KeyError(path)
        body = body[step]
    return body


# --- configuration --------------------------------------------------------------------------


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiKeyAuth(_Block):
    type: Literal["api_key"]
    key: SecretStr
    header: str = Field(default="X-API-Key", min_length=1)
    prefix: str = ""


class OAuthAuth(_Block):
    type: Literal["oauth"] = "oauth"
    token_url: HttpUrl
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"


class TokenAuth(_Block):
    """A token endpoint of the platform's own design (``POST`` a JSON or form body)."""

    type: Literal["token"]
    url: str = Field(min_length=1)
    """Absolute, or a path under ``base_url``."""
    body: dict[str, SecretStr] = Field(default_factory=dict)
    form: bool = False
    token_path: Dotted = "access_token"  # noqa: S105 (a path in the answer, not a secret)
    expires_path: Dotted | None = None
    """Where the answer gives the token's lifetime in seconds; else ``lifetime``."""
    lifetime: float = Field(default=600.0, gt=0)
    header: str = Field(default="Authorization", min_length=1)
    prefix: str = "Bearer "


Auth = Annotated[ApiKeyAuth | OAuthAuth | TokenAuth, Field(discriminator="type")]


class Paging(_Block):
    style: Literal["keyset", "page_number", "offset", "cursor", "next_link"]
    size_param: str | None = "limit"
    """The parameter giving the page size; None: the API decides (pages end when empty)."""
    page_param: str = "page"
    start: int = Field(default=1, ge=0)
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: Dotted = "next"
    next_path: Dotted = "next"
    since_param: str = "updated_since"
    after_param: str = "after"
    total_path: Dotted | None = None
    """Where the answer gives the number of rows in all pages, if it does."""


class Incremental(_Block):
    param: str = Field(min_length=1)
    format: str = "iso"
    """``iso``, ``epoch`` (seconds), ``epoch_ms`` or a strftime pattern (read in CST when it
    carries no offset): how the cursor is written in rows and in the parameter."""


class Envelope(_Block):
    """Where an answer says whether it succeeded, for APIs that answer HTTP 200 with a
    business code (``{code: 0, msg: ..., data: ...}``): any other code is a FatalError."""

    code_path: Dotted = "code"
    ok: list[int | str | bool] = Field(default_factory=lambda: [0], min_length=1)  # type: ignore[arg-type,unused-ignore]
    message_path: Dotted = "msg"


class HttpStreamConfig(StreamConfig):
    path: Path
    params: dict[str, str | int | bool] = Field(default_factory=dict)
    records: Dotted | None = None
    paging: Paging | None = None
    incremental: Incremental | None = None
    """Overrides of the source's defaults for this stream."""

    @model_validator(mode="after")
    def _safe_path(self) -> Self:
        if ".." in self.path.split("/"):
            raise ValueError("path: no '..' steps")
        return self


class HttpConfig(_Block):
    base_url: HttpUrl
    auth: Auth | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    page_size: int = Field(default=100, ge=1, le=MAX_PAGE_SIZE)
    timeout: float = Field(default=30.0, gt=0)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    records: Dotted = "items"
    envelope: Envelope | None = None
    paging: Paging = Field(default_factory=lambda: Paging(style="next_link"))
    incremental: Incremental | None = None
    streams: list[HttpStreamConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len({s.name for s in self.streams}) != len(self.streams):
            raise ValueError("stream names must be unique")
        for stream in self.streams:
            paging = self.paging_of(stream)
            if paging.style == "keyset" and (stream.cursor_field is None or stream.full_refresh):
                raise ValueError(f"{stream.name}: keyset paging needs a cursor_field")
        return self

    def paging_of(self, stream: HttpStreamConfig) -> Paging:
        return stream.paging or self.paging

    def records_of(self, stream: HttpStreamConfig) -> str:
        return self.records if stream.records is None else stream.records

    def incremental_of(self, stream: HttpStreamConfig) -> Incremental | None:
        if stream.full_refresh or stream.cursor_field is None:
            return None
        return stream.incremental or self.incremental


# --- authentication ------------------------------------------------------------------------


class RenewedToken(httpx.Auth):
    """A token fetched on first use, again shortly before it expires, and once when the API
    rejects it (the server may have restarted or revoked it). A failed token request ends
    the flow with the token endpoint's response, which the caller judges like any other."""

    requires_response_body = True

    def __init__(self, header: str, prefix: str) -> None:
        self.header, self.prefix = header, prefix
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    @abstractmethod
    def token_request(self) -> httpx.Request: ...

    @abstractmethod
    def parse(self, body: Any) -> tuple[str, float]:
        """(token, lifetime in seconds) from the token endpoint's JSON; FatalError if none."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        fresh = token is None
        if token is None:
            token = self._accept((yield self.token_request()))
            if token is None:
                return
        request.headers[self.header] = self.prefix + token
        response = yield request
        if response.status_code != 401 or fresh:
            return
        self._forget(token)
        token = self._accept((yield self.token_request()))
        if token is None:
            return
        request.headers[self.header] = self.prefix + token
        yield request

    def _current(self) -> str | None:
        with self._lock:
            return self._token if time.monotonic() < self._expires else None

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token, self._expires = None, 0.0

    def _accept(self, response: httpx.Response) -> str | None:
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            raise FatalError("the token endpoint answered no JSON") from None
        token, lifetime = self.parse(body)
        margin = min(30.0, lifetime / 10)  # renew early: no expiry between check and use
        with self._lock:
            self._token, self._expires = token, time.monotonic() + lifetime - margin
        return token


class ClientCredentials(RenewedToken):
    """OAuth 2 client credentials (RFC 6749 4.4), on plain httpx: authlib's httpx
    integration warns on import that httpx is deprecated in favour of httpx2."""

    def __init__(self, config: OAuthAuth) -> None:
        super().__init__("Authorization", "Bearer ")
        self.config = config

    def token_request(self) -> httpx.Request:
        config = self.config
        secret = config.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {"Accept": "application/json"}
        if config.auth_method == "client_secret_basic":
            # RFC 6749 2.3.1: form-urlencode both before joining them.
            pair = f"{quote(config.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": config.client_id, "client_secret": secret}
        return httpx.Request("POST", config.token_url, data=form, headers=headers)

    def parse(self, body: Any) -> tuple[str, float]:
        try:
            token, kind = body["access_token"], body.get("token_type", "")
            lifetime = float(body.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise FatalError("the token endpoint answered without an access token") from None
        if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
            raise FatalError(f"the token endpoint gave no bearer token (type {kind!r})")
        return token, lifetime


class EndpointToken(RenewedToken):
    def __init__(self, config: TokenAuth, base_url: str) -> None:
        super().__init__(config.header, config.prefix)
        self.config = config
        self.url = httpx.URL(base_url).join(config.url)

    def token_request(self) -> httpx.Request:
        body = {name: value.get_secret_value() for name, value in self.config.body.items()}
        headers = {"Accept": "application/json"}
        if self.config.form:
            return httpx.Request("POST", self.url, data=body, headers=headers)
        return httpx.Request("POST", self.url, json=body, headers=headers)

    def parse(self, body: Any) -> tuple[str, float]:
        config = self.config
        try:
            token = dig(body, config.token_path)
            lifetime = config.lifetime
            if config.expires_path is not None:
                lifetime = float(dig(body, config.expires_path))
        except (KeyError, TypeError, ValueError):
            message = f"the token endpoint's answer has no token at {config.token_path!r}"
            raise FatalError(message) from None
        if not isinstance(token, str) or not token:
            raise FatalError(f"the token endpoint's {config.token_path!r} is not a token")
        return token, lifetime


# --- the source -----------------------------------------------------------------------------


class HttpSource(Source):
    connector: ClassVar[str] = "http"
    settings: HttpConfig

    def __init__(self, source_id: str, config: Mapping[str, Any]) -> None:
        super().__init__(source_id, config)
        self.settings = self.parse_settings(config)
        self._configs = {stream.name: stream for stream in self.settings.streams}
        self._client: httpx.Client | None = None

    def parse_settings(self, config: Mapping[str, Any]) -> HttpConfig:
        """The source's settings from its config (a subclass may translate its own)."""
        return parse_config(HttpConfig, config, self.source_id)

    def streams(self) -> list[Stream]:
        return [config.to_stream() for config in self.settings.streams]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        config = self._configs.get(stream.name)
        if config is None:
            raise ConfigurationError(f"no stream {stream.name!r}", source=self.source_id)
        limit = max(1, min(self.settings.page_size, batch_size))
        if self.settings.paging_of(config).style == "keyset":
            return self._read_keyset(config, state, limit)
        return self._read_pages(config, state, limit)

    # keyset: the position of the last row is the state ------------------------------------

    def _read_keyset(
        self, config: HttpStreamConfig, state: State | None, limit: int
    ) -> Iterator[Batch]:
        paging = self.settings.paging_of(config)
        cursor, key = config.cursor_field or "", config.primary_key
        position = self._keyset_state(config, paging, state)
        while True:
            params: dict[str, Any] = {}
            if position is not None:
                params = {paging.since_param: position[0], paging.after_param: position[1]}
            rows, following = self._fetch(config, params, limit)
            if not rows:
                return
            last = rows[-1]
            if cursor not in last or key not in last:
                message = (
                    f"rows have no {cursor!r} or {key!r}; "
                    "check the stream's cursor_field and primary_key"
                )
                raise self._error(ConfigurationError, config, message)
            new = (last[cursor], last[key])
            if following is not None:
                try:
                    told = (following[paging.since_param], following[paging.after_param])
                except (KeyError, TypeError):
                    message = f"the answer's {paging.next_path!r} is not a position"
                    raise self._error(FatalError, config, message) from None
                if told != new:
                    message = (
                        f"the API pages after {told} but the last row is at {new}: "
                        "cursor_field and primary_key must name the fields it orders by"
                    )
                    raise self._error(ConfigurationError, config, message)
            if new == position:
                message = f"the API returned the page after {new} again"
                raise self._error(FatalError, config, message)
            position = new
            yield Batch(rows, {paging.since_param: new[0], paging.after_param: new[1]})
            if following is None:
                return

    def _keyset_state(
        self, config: HttpStreamConfig, paging: Paging, state: State | None
    ) -> tuple[Any, Key] | None:
        if not state:
            return None
        since, after = state.get(paging.since_param), state.get(paging.after_param)
        if not isinstance(since, str) or not isinstance(after, int | str):
            raise self._error(ConfigurationError, config, "the saved state does not fit; reset it")
        return since, after

    # pages: page numbers, offsets, cursors and next links ------------------------------------

    def _read_pages(
        self, config: HttpStreamConfig, state: State | None, limit: int
    ) -> Iterator[Batch]:
        paging = self.settings.paging_of(config)
        incremental = self.settings.incremental_of(config)
        read = _PagedRead.resume(state, paging, incremental is not None)
        if read is None:
            raise self._error(ConfigurationError, config, "the saved state does not fit; reset it")
        if read.page is None:
            return
        page = self._fetch(config, self._page_params(config, read), limit)
        while True:
            rows, following = page
            asked = read.page
            read.advance(paging, rows, following, limit)
            if read.page is not None and read.page == asked:
                message = f"the API gives the page it was asked for as the next one: {asked}"
                raise self._error(FatalError, config, message)
            if read.page is not None:
                # Look ahead: a full page may be the last, and its state should say so.
                page = self._fetch(config, self._page_params(config, read), limit)
                if not page[0]:
                    read.page = None
            fresh = rows
            if incremental is not None:
                fresh = self._track_cursor(config, incremental, read, rows)
            if fresh or (read.page is None and read.high is not None):
                yield Batch(fresh, read.state())
            if read.page is None:
                return

    def _page_params(self, config: HttpStreamConfig, read: _PagedRead) -> dict[str, Any]:
        params: dict[str, Any] = {}
        incremental = self.settings.incremental_of(config)
        if incremental is not None and read.since is not None:
            params[incremental.param] = read.since
        return params | read.page_params(self.settings.paging_of(config))

    def _track_cursor(
        self,
        config: HttpStreamConfig,
        incremental: Incremental,
        read: _PagedRead,
        rows: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The rows not read before (at the starting cursor value), the highest seen kept."""
        cursor, key = config.cursor_field or "", config.primary_key
        start = _instant(read.since, incremental.format) if read.since is not None else None
        high = _instant(read.high, incremental.format) if read.high is not None else None
        fresh = []
        for row in rows:
            value = row.get(cursor)
            moment = _instant(value, incremental.format)
            if moment is None or key not in row:
                message = f"a row's {cursor!r} is not a {incremental.format} time, or no {key!r}"
                raise self._error(ConfigurationError, config, message)
            if start is not None and moment == start and str(row[key]) in read.skip:
                continue
            fresh.append(row)
            if high is None or moment > high:
                high, read.high, read.at_high = moment, value, []
            if moment == high:
                read.at_high.append(str(row[key]))
        return fresh

    # requests ----------------------------------------------------------------------------

    def _fetch(self, config: HttpStreamConfig, params: dict[str, Any], limit: int) -> Page:
        """One page, retried; errors carry the source, stream and attempts made."""
        paging = self.settings.paging_of(config)
        url: str = config.path
        query: dict[str, Any] | None = config.params | params
        link = params.get("__url")
        if link is not None:  # a next link carries its own query
            url, query = link, None
        elif paging.size_param is not None:
            query = (query or {}) | {paging.size_param: limit}
        attempts = 0

        def attempt() -> Page:
            nonlocal attempts
            attempts += 1
            return self._get_page(config, url, query)

        try:
            return retrying(**self.settings.retry.model_dump())(attempt)()
        except ConnectorError as exc:
            message = str(exc)
            if isinstance(exc, TransientError):
                message += f" (gave up after {attempts} attempts)"
            raise self._error(type(exc), config, message) from exc

    def _get_page(self, config: HttpStreamConfig, url: str, params: dict[str, Any] | None) -> Page:
        where = f"GET {httpx.URL(url).copy_with(query=None)}"
        try:
            response = self._http().get(url, params=params)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{where}: timed out ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(f"{where}: connection failed: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FatalError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise _status_error(response, self._credentials_hint(response.request))
        records = self.settings.records_of(config)
        paging = self.settings.paging_of(config)
        try:
            body = response.json()
            self._check_envelope(where, body)
            rows = dig(body, records)
        except (ValueError, KeyError):
            raise FatalError(f"{where}: the answer has no rows at {records or '(top)'!r}") from None
        if not (isinstance(rows, list) and all(isinstance(row, dict) for row in rows)):
            raise FatalError(f"{where}: the answer's {records or '(top)'!r} is not a list of rows")
        return rows, _following(body, paging)

    def _check_envelope(self, where: str, body: Any) -> None:
        envelope = self.settings.envelope
        if envelope is None:
            return
        try:
            code = dig(body, envelope.code_path)
        except KeyError:
            raise FatalError(f"{where}: the answer has no {envelope.code_path!r}") from None
        if code not in envelope.ok:
            try:
                said = str(dig(body, envelope.message_path))[:200]
            except KeyError:
                said = ""
            raise FatalError(f"{where}: the platform answered {envelope.code_path} {code}: {said}")

    def _http(self) -> httpx.Client:
        if self._client is None:
            settings = self.settings
            headers = {"Accept": "application/json", "User-Agent": "police-grid-hub"}
            headers |= {name: value.get_secret_value() for name, value in settings.headers.items()}
            auth: httpx.Auth | None = None
            if isinstance(settings.auth, ApiKeyAuth):
                headers[settings.auth.header] = settings.auth.prefix + (
                    settings.auth.key.get_secret_value()
                )
            elif isinstance(settings.auth, OAuthAuth):
                auth = ClientCredentials(settings.auth)
            elif isinstance(settings.auth, TokenAuth):
                auth = EndpointToken(settings.auth, settings.base_url)
            self._client = httpx.Client(
                base_url=settings.base_url, headers=headers, auth=auth, timeout=settings.timeout
            )
        return self._client

    def _credentials_hint(self, request: httpx.Request) -> str:
        auth = self.settings.auth
        if isinstance(auth, OAuthAuth):
            if request.url == httpx.URL(auth.token_url):
                return "the token endpoint refused them: check oauth.client_id and client_secret"
            return "check the OAuth client's access to this resource"
        if isinstance(auth, TokenAuth):
            if request.url.copy_with(query=None) == httpx.URL(self.settings.base_url).join(
                auth.url
            ):
                return "the token endpoint refused them: check auth.body"
            return "check the token's access to this resource"
        return "check api_key" if auth is not None else "the source needs an auth block"

    def _error(
        self, kind: type[ConnectorError], config: HttpStreamConfig, message: str
    ) -> ConnectorError:
        return kind(message, source=self.source_id, stream=config.name)


class _PagedRead:
    """Where a paged read stands: its state is this, as JSON.

    ``page`` is what to ask for next (a page number, an offset, a cursor token or a URL;
    None once the last page is read); ``since``/``skip`` the incremental start and the keys
    read at it before; ``high``/``at_high`` the highest cursor value read so far and its keys,
    which become ``since``/``skip`` of the next read.
    """

    def __init__(self, page: Any, since: Any, skip: list[str]) -> None:
        self.page = page
        self.since, self.skip = since, skip
        self.high: Any = None
        self.at_high: list[str] = []
        self.incremental = False

    @classmethod
    def resume(cls, state: State | None, paging: Paging, incremental: bool) -> _PagedRead | None:
        first: Any = {"page_number": paging.start, "offset": 0}.get(paging.style, "")
        if not state:
            read = cls(first, None, [])
        else:
            try:
                read = cls(state["page"], state.get("since"), list(state.get("skip", [])))
                read.high, read.at_high = state.get("high"), list(state.get("at_high", []))
            except (KeyError, TypeError):
                return None
            if read.page is None:
                # The last read ended: the next one starts from its highest cursor value.
                read = cls(first, read.since, read.skip) if incremental else read
        read.incremental = incremental
        return read

    def page_params(self, paging: Paging) -> dict[str, Any]:
        if paging.style == "page_number":
            return {paging.page_param: self.page}
        if paging.style == "offset":
            return {paging.offset_param: self.page}
        if self.page == "":
            return {}
        if paging.style == "cursor":
            return {paging.cursor_param: self.page}
        return {"__url": self.page}

    def advance(
        self, paging: Paging, rows: list[dict[str, Any]], following: Any, limit: int
    ) -> None:
        style = paging.style
        if style in ("page_number", "offset"):
            total = following if isinstance(following, int) else None
            step = 1 if style == "page_number" else len(rows)
            done = self.page + step
            read = (done - paging.start) * limit if style == "page_number" else done
            short = paging.size_param is not None and len(rows) < limit
            ended = not rows or short or (total is not None and read >= total)
            self.page = None if ended else done
        else:
            self.page = following if isinstance(following, str) and following and rows else None

    def state(self) -> State:
        state: State = {"page": self.page}
        if self.incremental:
            since, skip = self.since, self.skip
            if self.page is None and self.high is not None:
                since, skip = self.high, self.at_high
            state |= {"since": since, "skip": skip}
            if self.page is not None:
                state |= {"high": self.high, "at_high": self.at_high}
        return state


def _following(body: Any, paging: Paging) -> Any:
    """What the answer says of the next page: the total (page styles), a token, a URL, a
    position (keyset); None if it says nothing."""
    path = {
        "page_number": paging.total_path,
        "offset": paging.total_path,
        "cursor": paging.cursor_path,
    }.get(paging.style, paging.next_path)
    if path is None:
        return None
    try:
        return dig(body, path)
    except KeyError:
        return None


def _instant(value: Any, format: str) -> dt.datetime | None:
    """A cursor value as an aware time, or None if it is not one in ``format``."""
    try:
        if format in ("epoch", "epoch_ms"):
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            seconds = float(value) / (1000 if format == "epoch_ms" else 1)
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        if not isinstance(value, str):
            return None
        if format == "iso":
            moment = dt.datetime.fromisoformat(value)
        else:
            moment = dt.datetime.strptime(value, format)
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CST)


def _status_error(response: httpx.Response, credentials_hint: str) -> ConnectorError:
    request = response.request
    status = response.status_code
    where = f"{request.method} {request.url.copy_with(query=None)}"
    detail = _detail(response)
    message = f"{where}: HTTP {status} {response.reason_phrase}" + (f": {detail}" if detail else "")
    if status in TRANSIENT_STATUS:
        return TransientError(message)
    if status in (401, 403):
        return FatalError(f"{message} ({credentials_hint})")
    if status == 404:
        return FatalError(f"{message} (check base_url and the stream's path or resource)")
    return FatalError(message)


def _detail(response: httpx.Response) -> str:
    """The server's short reason, if it gave one (never the request's credentials)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for name in ("error_description", "detail", "error", "message", "msg"):
            if isinstance(body.get(name), str):
                return str(body[name])[:200]
    return ""
