"""The authorization server's identity and limits, and the external identity provider
the hub may trust besides itself."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, model_validator

ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519"}
)
"""What a verifier may ever accept: never ``none``, never an HMAC (HS*), whose key would be
the very public key a forger can download."""


class ExternalIdP(BaseModel):
    """A trusted identity provider: its tokens are accepted when they carry its issuer and
    our audience, are signed by a key of its JWKS, and name a registered, unrevoked client
    in ``client_id`` or ``azp`` (or the claims ``client_claims`` names).

    What the token's claims may say is who is asking and which scopes it asks for; what
    it may then do and see (policy, jurisdiction, scopes at most those registered) is the
    hub's registry's, never a claim of the provider's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_uri: str = Field(pattern=r"^https?://")
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    cache_ttl: float = Field(default=300.0, gt=0)
    """Seconds a fetched JWKS is used before it is fetched again."""
    refetch_interval: float = Field(default=10.0, ge=0)
    """Least seconds between fetches triggered by an unknown ``kid`` (so forged kids cannot
    turn the verifier into a request flood against the provider)."""
    timeout: float = Field(default=5.0, gt=0)
    require_at_jwt: bool = True
    """RFC 9068 ``typ: at+jwt``; some providers still label access tokens ``JWT``."""
    client_claims: tuple[str, ...] = Field(default=("client_id", "azp"), min_length=1)
    """The claims naming the registered client, the first present wins (Azure AD: ``appid``)."""
    scope_claims: tuple[str, ...] = Field(default=("scope", "scp"), min_length=1)
    """The claims holding the scopes asked for, a space-separated string or a list (some
    providers put them in ``roles``); the first present wins."""
    subject_claim: str = "sub"
    """The claim audited as the person or service acting (``preferred_username``…)."""

    @model_validator(mode="after")
    def _asymmetric_only(self) -> Self:
        bad = set(self.algorithms) - ASYMMETRIC_ALGS
        if bad or not self.algorithms:
            raise ValueError(f"algorithms must be asymmetric JWS algorithms, not {sorted(bad)}")
        return self


class OperatorIdP(BaseModel):
    """The OpenID Connect provider operators may sign in to the pages through (the
    authorization code flow with PKCE, ``hub.console.provider``).

    The provider says who the person is, in ``subject_claim`` of a verified ID token; the
    account that person is (``hub users add NAME --role R --oidc-subject SUB``) and so the
    roles they hold are the hub's, never a claim of the provider's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The provider's issuer identifier; its metadata is read from
    ``<issuer>/.well-known/openid-configuration`` and must name this very issuer."""
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    """The hub's secret at the provider (``client_secret_basic``); none for a public
    client, which PKCE alone protects."""
    subject_claim: str = Field(default="sub", min_length=1)
    """The claim that names the person, matched against the accounts' linked subjects.
    ``sub`` never changes and is never reassigned; ``preferred_username`` or ``email``
    may be, at some providers."""
    scopes: tuple[str, ...] = ("openid",)
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    redirect_uri: str | None = Field(default=None, pattern=r"^https?://")
    """The callback registered at the provider; by default the console's
    ``/console/oidc/callback`` at the address the browser used."""
    label: str = Field(default="统一身份认证", min_length=1, max_length=40)
    """The provider's name on the sign-in page's button."""
    timeout: float = Field(default=5.0, gt=0)
    cache_ttl: float = Field(default=300.0, gt=0)
    """Seconds the provider's metadata and JWKS are used before they are fetched again."""
    refetch_interval: float = Field(default=10.0, ge=0)
    """Least seconds between JWKS fetches triggered by an unknown ``kid``."""
    leeway: int = Field(default=30, ge=0, le=120)

    @model_validator(mode="after")
    def _checked(self) -> Self:
        bad = set(self.algorithms) - ASYMMETRIC_ALGS
        if bad or not self.algorithms:
            raise ValueError(f"algorithms must be asymmetric JWS algorithms, not {sorted(bad)}")
        if "openid" not in self.scopes:
            raise ValueError("scopes must include openid")
        return self

    @field_serializer("client_secret", when_used="json")
    def _stored(self, secret: SecretStr | None) -> str | None:
        """Saved as it is (``config.json`` is 0600); ``hub config show`` masks it."""
        return None if secret is None else secret.get_secret_value()


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The hub's issuer identifier (RFC 8414): a URL, its endpoints live under it."""
    audience: str = Field(min_length=1)
    """The hub API's identifier, the ``aud`` of every token the hub issues and accepts."""
    token_lifetime: int = Field(default=300, ge=30, le=3600)
    leeway: int = Field(default=30, ge=0, le=120)
    external: ExternalIdP | None = None

    @property
    def base_url(self) -> str:
        return self.issuer.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"
