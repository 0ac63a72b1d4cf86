"""The hub's token signing keys, in the database so every hub process signs and verifies
with the same ones; the private half sealed with the keyring (AES-GCM), bound to its kid.

ES256 (P-256): every JOSE library a partner may use verifies it. ``EdDSA`` is deprecated
by RFC 9864 (joserfc warns on it) and its replacement ``Ed25519`` is not yet understood
by most partner stacks.

``rotate()`` retires the active key and makes a new one. A retired key is still published
and still verifies for ``token_lifetime + leeway`` after its retirement, the longest any
token it signed can live; then it drops out of the JWKS and verification.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import select, update

from hub.store import Store
from hub.store.tables import signing_key_context, signing_keys

ALG = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    key: ECKey
    """The private key (its ``public`` half is what gets published)."""
    created_at: dt.datetime
    retired_at: dt.datetime | None


def _context(kid: str) -> str:
    return signing_key_context(kid)


class SigningKeys:
    def __init__(
        self,
        store: Store,
        token_lifetime: int = 300,
        leeway: int = 30,
        now: Callable[[], float] = time.time,
        refresh_after: float = 60.0,
    ) -> None:
        self.store = store
        self.window = dt.timedelta(seconds=token_lifetime + leeway)
        self.now = now
        self.refresh_after = refresh_after
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at: float | None = None

    def _moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), dt.UTC)

    def active(self) -> SigningKey:
        """The key new tokens are signed with: the newest unretired one, made if none.

        Read from the database on every call, so a rotation in another process takes
        effect here at once."""
        query = (
            select(signing_keys.c.kid)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            kid = conn.execute(query).scalar_one_or_none()
        if kid is None:
            return self._create()
        key = self._cached(kid) or self._load(kid)
        if key is None:
            raise RuntimeError(f"signing key {kid} vanished")
        return key

    def rotate(self) -> SigningKey:
        """Retire every active key and make a new one; returns the new key."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .values(retired_at=self._moment())
            )
        created = self._create()
        self._refresh()
        return created

    def find(self, kid: str) -> ECKey | None:
        """A key that may verify a token now (active, or retired within the window)."""
        key = self._cached(kid) or self._load(kid)
        if key is None or not self._published(key):
            return None
        return key.key

    def jwks(self) -> dict[str, Any]:
        """The public keys: the active one (made if none yet) and those retired within
        the window."""
        self.active()
        self._refresh()
        with self._lock:
            published = [k for k in self._keys.values() if self._published(k)]
        published.sort(key=lambda k: k.created_at, reverse=True)
        return {"keys": [k.key.as_dict(private=False) for k in published]}

    def _published(self, key: SigningKey) -> bool:
        return key.retired_at is None or self._moment() < key.retired_at + self.window

    def _create(self) -> SigningKey:
        key = ECKey.generate_key("P-256", parameters={"alg": ALG, "use": "sig"}, auto_kid=True)
        kid = key.kid
        if kid is None:  # auto_kid makes it the RFC 7638 thumbprint
            raise RuntimeError("joserfc made a key without a kid")
        created = SigningKey(kid, key, self._moment(), None)
        sealed = self.store.seal(json.dumps(key.as_dict(private=True)), _context(kid))
        with self.store.engine.begin() as conn:
            conn.execute(
                signing_keys.insert().values(
                    kid=kid,
                    alg=ALG,
                    public_jwk=key.as_dict(private=False),
                    private_jwk=sealed,
                    created_at=created.created_at,
                )
            )
        with self._lock:
            self._keys[kid] = created
        return created

    def _cached(self, kid: str) -> SigningKey | None:
        if self._loaded_at is None or self.now() - self._loaded_at > self.refresh_after:
            self._refresh()
        with self._lock:
            return self._keys.get(kid)

    def _load(self, kid: str) -> SigningKey | None:
        """One key by kid, from the database: a key made by another process since our last
        refresh. One primary-key look-up, as cheap as the client look-up every token costs."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(signing_keys).where(signing_keys.c.kid == kid)).first()
        if row is None:
            return None
        m = row._mapping
        key = SigningKey(kid, self._unseal(kid, m), m["created_at"], m["retired_at"])
        with self._lock:
            self._keys[kid] = key
        return key

    def _refresh(self) -> None:
        horizon = self._moment() - self.window
        query = select(signing_keys).where(
            signing_keys.c.retired_at.is_(None) | (signing_keys.c.retired_at > horizon)
        )
        with self.store.engine.connect() as conn:
            rows = [row._mapping for row in conn.execute(query)]
        loaded: dict[str, SigningKey] = {}
        with self._lock:
            for row in rows:
                known = self._keys.get(row["kid"])
                key = known.key if known is not None else self._unseal(row["kid"], row)
                loaded[row["kid"]] = SigningKey(
                    row["kid"], key, row["created_at"], row["retired_at"]
                )
            self._keys = loaded
            self._loaded_at = self.now()

    def _unseal(self, kid: str, row: Any) -> ECKey:
        clear = self.store.unseal(row["private_jwk"], _context(kid))
        return ECKey.import_key(json.loads(clear))
