"""The community grid platform's REST API: residents, addresses and events as JSON pages.

One configuration of the declarative HTTP source (``connectors.http``), kept under its own
name and config for the platforms that speak this protocol: ``GET /api/v1/{resource}``
lists a resource in (``updatedAt``, key) order and pages by keyset (``limit``,
``updated_since`` and ``after``, the answer ``{items, next}``); callers authenticate with an
``X-API-Key`` header or OAuth 2 client credentials. The state is the position of the last
row handed out, so a read resumes after the last batch stored and rows sharing one
``updatedAt`` are neither lost nor read twice. A platform speaking anything else is
described in ``sources.yaml`` with ``connector: http``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.http import (
    MAX_PAGE_SIZE,
    ClientCredentials,
    HttpConfig,
    HttpSource,
    HttpStreamConfig,
    HttpUrl,
    OAuthAuth,
)
from connectors.sdk import RetryConfig, StreamConfig, parse_config

__all__ = ["ClientCredentials", "GridPlatformConfig", "GridPlatformSource"]


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

    def as_http(self) -> HttpConfig:
        """The same source as a declarative HTTP source's settings."""
        shared = list(StreamConfig.model_fields)
        streams = [
            HttpStreamConfig.model_validate(
                {name: getattr(stream, name) for name in shared}
                | {"path": f"/api/v1/{stream.resource}"}
            )
            for stream in self.streams
        ]
        if self.api_key is not None:
            auth: dict[str, Any] = {"type": "api_key", "key": self.api_key}
        else:
            assert self.oauth is not None  # noqa: S101 (checked by _consistent)
            auth = OAuthAuth.model_validate(self.oauth.model_dump()).model_dump()
        return HttpConfig.model_validate(
            {
                "base_url": self.base_url,
                "auth": auth,
                "page_size": self.page_size,
                "timeout": self.timeout,
                "retry": self.retry,
                "records": "items",
                "paging": {"style": "keyset", "size_param": "limit", "next_path": "next"},
                "streams": streams,
            }
        )


class GridPlatformSource(HttpSource):
    connector: ClassVar[str] = "grid_platform"

    def parse_settings(self, config: Mapping[str, Any]) -> HttpConfig:
        return parse_config(GridPlatformConfig, config, self.source_id).as_http()
