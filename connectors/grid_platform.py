"""The community grid platform's REST API: residents, addresses and events as JSON pages.

The API lists a resource in (``updatedAt``, key) order and pages by keyset: each request
passes the position of the last row handed out (``updated_since`` and ``after``) and gets
the rows strictly after it. That position is the stream's state, so a read resumes after
the last batch stored, and rows sharing one ``updatedAt`` are neither lost nor read twice.

Each request is retried on transient failures (429/408/502/503/504, connection errors,
timeouts, connections dropped mid-response); when the retries run out the last
``TransientError`` propagates, so the hub can tell "try again later" from a ``FatalError``
(rejected credentials, unknown resource, any other 4xx or 5xx) that needs a person.

OAuth 2 client credentials are done on plain httpx (``ClientCredentials``): authlib's
httpx integration warns on import that httpx is deprecated in favour of httpx2.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import quote

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

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
Key = int | str


def _http_url(value: str) -> str:
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class OAuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_url: HttpUrl
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"


class ResourceStreamConfig(StreamConfig):
    """A stream read from one resource of the API, always incrementally."""

    resource: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    cursor_field: str = Field(default="updatedAt", min_length=1)


class GridPlatformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: HttpUrl
    api_key: SecretStr | None = None
    oauth: OAuthConfig | None = None
    page_size: int = Field(default=100, ge=1, le=MAX_PAGE_SIZE)
    timeout: float = Field(default=30.0, gt=0)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    streams: list[ResourceStreamConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.api_key is None) == (self.oauth is None):
            raise ValueError("give exactly one of 'api_key' and 'oauth'")
        if len({s.name for s in self.streams}) != len(self.streams):
            raise ValueError("stream names must be unique")
        return self


class ClientCredentials(httpx.Auth):
    """OAuth 2 client credentials (RFC 6749 4.4) as an httpx auth flow.

    The token is fetched on first use and again shortly before it expires, or once when
    the API rejects it (the server may have restarted or revoked it). A failed token
    request ends the flow with the token endpoint's response, which the caller judges
    like any other.
    """

    requires_response_body = True

    def __init__(self, config: OAuthConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        fresh = token is None
        if token is None:
            response = yield self._token_request()
            token = self._accept(response)
            if token is None:
                return
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401 or fresh:
            return
        self._forget(token)
        response = yield self._token_request()
        token = self._accept(response)
        if token is None:
            return
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _current(self) -> str | None:
        with self._lock:
            return self._token if time.monotonic() < self._expires else None

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token, self._expires = None, 0.0

    def _token_request(self) -> httpx.Request:
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

    def _accept(self, response: httpx.Response) -> str | None:
        """The token from a token response, remembered; None if the request failed."""
        if response.status_code != 200:
            return None
        try:
            body = response.json()
            token = body["access_token"]
            kind = body.get("token_type", "")
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise FatalError("the token endpoint answered without an access token") from None
        if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
            raise FatalError(f"the token endpoint gave no bearer token (type {kind!r})")
        # Renew a little early, so a token does not expire between check and use.
        margin = min(30.0, lifetime / 10)
        with self._lock:
            self._token, self._expires = token, time.monotonic() + lifetime - margin
        return token


class GridPlatformSource(Source):
    connector: ClassVar[str] = "grid_platform"

    def __init__(self, source_id: str, config: Mapping[str, Any]) -> None:
        super().__init__(source_id, config)
        self.settings = parse_config(GridPlatformConfig, self.config, source_id)
        self._configs = {stream.name: stream for stream in self.settings.streams}
        self._client: httpx.Client | None = None

    def streams(self) -> list[Stream]:
        return [config.to_stream() for config in self.settings.streams]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        config = self._configs.get(stream.name)
        if config is None:
            raise ConfigurationError(f"no stream {stream.name!r}", source=self.source_id)
        position = self._decode_state(config, state)
        limit = max(1, min(self.settings.page_size, batch_size))
        while True:
            rows, following = self._fetch(config, position, limit)
            if not rows:
                return
            last = rows[-1]
            if config.cursor_field not in last or config.primary_key not in last:
                message = (
                    f"rows have no {config.cursor_field!r} or {config.primary_key!r}; "
                    "check the stream's cursor_field and primary_key"
                )
                raise self._error(ConfigurationError, config, message)
            new = (last[config.cursor_field], last[config.primary_key])
            if following is not None and following != new:
                message = (
                    f"the API pages after {following} but the last row is at {new}: "
                    "cursor_field and primary_key must name the fields it orders by"
                )
                raise self._error(ConfigurationError, config, message)
            if new == position:
                message = f"the API returned the page after {new} again"
                raise self._error(FatalError, config, message)
            position = new
            yield Batch(rows, {"updated_since": new[0], "after": new[1]})
            if following is None:
                return

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _fetch(
        self, config: ResourceStreamConfig, position: tuple[str, Key] | None, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[str, Key] | None]:
        """One page, retried; errors carry the source, stream and attempts made."""
        params: dict[str, Any] = {"limit": limit}
        if position is not None:
            params |= {"updated_since": position[0], "after": position[1]}
        attempts = 0

        def attempt() -> tuple[list[dict[str, Any]], tuple[str, Key] | None]:
            nonlocal attempts
            attempts += 1
            return self._get_page(f"/api/v1/{config.resource}", params)

        try:
            return retrying(**self.settings.retry.model_dump())(attempt)()
        except ConnectorError as exc:
            message = str(exc)
            if isinstance(exc, TransientError):
                message += f" (gave up after {attempts} attempts)"
            raise self._error(type(exc), config, message) from exc

    def _get_page(
        self, path: str, params: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], tuple[str, Key] | None]:
        try:
            response = self._http().get(path, params=params)
        except httpx.TimeoutException as exc:
            raise TransientError(f"GET {path}: timed out ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(f"GET {path}: connection failed: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FatalError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise _status_error(response, self._credentials_hint(response.request))
        try:
            body = response.json()
            items = body["items"]
            following = body["next"]
            if not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
                raise TypeError
            if following is None:
                return items, None
            return items, (following["updated_since"], following["after"])
        except (ValueError, KeyError, TypeError):
            message = f"GET {path}: the answer is not a page of items (items, next)"
            raise FatalError(message) from None

    def _http(self) -> httpx.Client:
        if self._client is None:
            settings = self.settings
            headers = {"Accept": "application/json", "User-Agent": "police-grid-hub"}
            auth: httpx.Auth | None = None
            if settings.api_key is not None:
                headers["X-API-Key"] = settings.api_key.get_secret_value()
            elif settings.oauth is not None:
                auth = ClientCredentials(settings.oauth)
            self._client = httpx.Client(
                base_url=settings.base_url, headers=headers, auth=auth, timeout=settings.timeout
            )
        return self._client

    def _credentials_hint(self, request: httpx.Request) -> str:
        oauth = self.settings.oauth
        if oauth is None:
            return "check api_key"
        if request.url == httpx.URL(oauth.token_url):
            return "the token endpoint refused them: check oauth.client_id and client_secret"
        return "check the OAuth client's access to this resource"

    def _decode_state(
        self, config: ResourceStreamConfig, state: State | None
    ) -> tuple[str, Key] | None:
        if not state:
            return None
        since, after = state.get("updated_since"), state.get("after")
        if not isinstance(since, str) or not isinstance(after, int | str):
            message = "the saved state does not fit this stream; reset it"
            raise self._error(ConfigurationError, config, message)
        return since, after

    def _error(
        self, kind: type[ConnectorError], config: ResourceStreamConfig, message: str
    ) -> ConnectorError:
        return kind(message, source=self.source_id, stream=config.name)


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
        return FatalError(f"{message} (check base_url and the stream's resource)")
    return FatalError(message)


def _detail(response: httpx.Response) -> str:
    """The server's short reason, if it gave one (never the request's credentials)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for name in ("error_description", "detail", "error", "message"):
            if isinstance(body.get(name), str):
                return str(body[name])[:200]
    return ""
