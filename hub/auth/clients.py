"""The client registry: partner systems allowed to ask the hub for tokens.

A client authenticates one way only: with a secret (``client_secret_basic``) or, when it
registered a public JWKS, with a signed assertion (``private_key_jwt``, RFC 7523), and then
it gets no secret at all. Secrets are 256-bit random strings shown once; the registry
keeps an scrypt hash with a per-client salt.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.audit import AuditEvent, AuditLog
from hub.auth.errors import ClientRejected, UnknownClient
from hub.auth.scopes import scope_problems
from hub.encoding import b64url_decode, b64url_encode
from hub.store import Store
from hub.store.tables import clients, used_assertions

AuthMethod = Literal["client_secret_basic", "private_key_jwt"]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_CLAIM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "azp", "policy"}
)
"""Claim names a jurisdiction claim may not take: the token's own claims."""


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    params = f"{_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}"
    return f"scrypt${params}${b64url_encode(salt)}${b64url_encode(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = b64url_decode(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=b64url_decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash no secret matches, made once per process (make it before the first request,
    or that request's time gives it away)."""
    return hash_secret(secrets.token_urlsafe(32))


def burn_secret_check(secret: str) -> None:
    """The cost of checking ``secret`` against a stored hash, for a client that does not
    exist: so that the time of a refusal does not tell which client ids do."""
    secret_matches(secret, dummy_hash())


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    auth_method: AuthMethod
    policy_id: str
    scopes: frozenset[str]
    claims: Mapping[str, tuple[str, ...]]
    """Jurisdiction claims copied into every token: grid, beat and area codes, prefixes."""
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    jwks: dict[str, Any] | None = None
    secret_hash: str | None = field(default=None, repr=False)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def check_secret(self, secret: str) -> bool:
        return self.secret_hash is not None and secret_matches(secret, self.secret_hash)

    def key_set(self) -> KeySet:
        if self.jwks is None:
            raise ClientRejected(f"client {self.client_id} has no JWKS")
        return KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class NewClient:
    client: Client
    secret: str | None
    """In clear, this once; ``None`` for a ``private_key_jwt`` client."""


def _check_claims(claims: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    checked: dict[str, tuple[str, ...]] = {}
    for name, values in claims.items():
        if not _CLAIM_NAME.match(name) or name in RESERVED_CLAIMS:
            raise ClientRejected(f"claim name {name!r} is reserved or not snake_case")
        if isinstance(values, str):
            raise ClientRejected(f"claim {name!r} takes a list of codes, not one string")
        listed = tuple(dict.fromkeys(str(v).strip() for v in values))
        if not listed or any(not v for v in listed):
            raise ClientRejected(f"claim {name!r} needs at least one non-empty code")
        checked[name] = listed
    return checked


def _check_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The client's public signing keys: asymmetric, public only, each with a ``kid``."""
    try:
        key_set = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, KeyError, TypeError, ValueError) as exc:
        raise ClientRejected(f"JWKS is not readable: {exc}") from None
    for key in key_set:
        if not isinstance(key, RSAKey | ECKey | OKPKey):
            raise ClientRejected(f"JWKS key {key.kid} is symmetric: only public keys are taken")
        if key.is_private:
            raise ClientRejected(f"JWKS key {key.kid} holds private material: send public keys")
        if isinstance(key, RSAKey) and key.public_key.key_size < 2048:
            raise ClientRejected(f"JWKS key {key.kid} is RSA below 2048 bits")
    return dict(key_set.as_dict(private=False))


class ClientRegistry:
    def __init__(
        self, store: Store, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ) -> None:
        self.store = store
        self.now = now

    def add(
        self,
        name: str,
        policy_id: str,
        scopes: Iterable[str],
        claims: Mapping[str, Iterable[str]] | None = None,
        jwks: Mapping[str, Any] | None = None,
        *,
        audit: AuditLog | None = None,
        policy_version: int | None = None,
        by: str | None = None,
    ) -> NewClient:
        """Register a client. With ``audit``, its ``client.added`` entry (made ``by`` an
        operator) is appended in the registration's transaction: if the entry cannot be
        written, nothing is registered."""
        name = name.strip()
        if not 0 < len(name) <= 128:
            raise ClientRejected("a client needs a name of 1 to 128 characters")
        if not policy_id:
            raise ClientRejected("a client is bound to one policy id")
        wanted = frozenset(scopes)
        if not wanted:
            raise ClientRejected("a client needs at least one scope")
        if problems := scope_problems(sorted(wanted)):
            raise ClientRejected("; ".join(problems))
        checked_claims = _check_claims(claims or {})
        public_jwks = _check_jwks(jwks) if jwks is not None else None
        secret = None if public_jwks is not None else secrets.token_urlsafe(32)
        client = Client(
            client_id="cl_" + secrets.token_hex(8),
            name=name,
            auth_method="private_key_jwt" if public_jwks is not None else "client_secret_basic",
            policy_id=policy_id,
            scopes=wanted,
            claims=checked_claims,
            created_at=self.now(),
            jwks=public_jwks,
            secret_hash=None if secret is None else hash_secret(secret),
        )
        with self.store.begin() as tx:
            tx.conn.execute(
                clients.insert().values(
                    client_id=client.client_id,
                    name=client.name,
                    auth_method=client.auth_method,
                    secret_hash=client.secret_hash,
                    jwks=client.jwks,
                    policy_id=client.policy_id,
                    claims={k: list(v) for k, v in client.claims.items()},
                    scopes=sorted(client.scopes),
                    created_at=client.created_at,
                )
            )
            if audit is not None:
                event = AuditEvent(
                    action="client.added",
                    outcome="allowed",
                    client_id=client.client_id,
                    subject=by,
                    policy_id=policy_id,
                    policy_version=policy_version,
                    detail={
                        "name": name,
                        "scopes": sorted(wanted),
                        "claims": {k: list(v) for k, v in checked_claims.items()},
                        "auth_method": client.auth_method,
                    },
                )
                audit.append(event, tx)
        return NewClient(client, secret)

    def get(self, client_id: str) -> Client | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        return None if row is None else _client(row._mapping)

    def list(self, include_revoked: bool = True) -> list[Client]:
        query = select(clients).order_by(clients.c.created_at, clients.c.client_id)
        if not include_revoked:
            query = query.where(clients.c.revoked_at.is_(None))
        with self.store.engine.connect() as conn:
            return [_client(row._mapping) for row in conn.execute(query)]

    def revoke(
        self, client_id: str, *, audit: AuditLog | None = None, by: str | None = None
    ) -> Client:
        """Revoke at once: tokens already issued stop verifying too. Revoking twice keeps
        the first time. With ``audit``, the ``client.revoked`` entry commits with the
        revocation (or neither does)."""
        with self.store.begin() as tx:
            tx.conn.execute(
                update(clients)
                .where(clients.c.client_id == client_id, clients.c.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
            row = tx.conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
            if row is None:
                raise UnknownClient(client_id)
            client = _client(row._mapping)
            if audit is not None:
                event = AuditEvent(
                    action="client.revoked",
                    outcome="allowed",
                    client_id=client_id,
                    subject=by,
                    policy_id=client.policy_id,
                )
                audit.append(event, tx)
        return client

    def remember_assertion(self, client_id: str, jti: str, expires_at: dt.datetime) -> bool:
        """Record a client assertion's ``jti``; False if it was already used (a replay).

        ``expires_at`` must be the last moment the assertion would be accepted (its exp
        plus the leeway): the record is kept until then."""
        now = self.now()
        try:
            with self.store.engine.begin() as conn:
                conn.execute(delete(used_assertions).where(used_assertions.c.expires_at < now))
                conn.execute(
                    used_assertions.insert().values(
                        client_id=client_id, jti=jti, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True


def _client(m: RowMapping) -> Client:
    return Client(
        client_id=m["client_id"],
        name=m["name"],
        auth_method=m["auth_method"],
        policy_id=m["policy_id"],
        scopes=frozenset(m["scopes"]),
        claims={k: tuple(v) for k, v in m["claims"].items()},
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        jwks=m["jwks"],
        secret_hash=m["secret_hash"],
    )
