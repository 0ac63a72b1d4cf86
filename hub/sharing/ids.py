"""Record ids and cursors as each partner sees them: opaque, stable, its own.

The database id never leaves the hub: it is the same for every partner, so a partner
holding two clients (a grid platform and an analyst) could join on it and map every
pseudonym back to a name. A partner is given the id sealed with AES-SIV under a key of
its own (deterministic authenticated encryption: the same record always gets the same
id for one partner, a different one for any other, and an id that was not made by the
hub for this partner and kind does not open).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from hub.encoding import b64url_decode, b64url_encode
from hub.store import Store

ID_PATTERN = r"^[A-Za-z0-9_-]{32}$"
"""What an id or cursor looks like: 24 bytes (16 of synthetic IV, 8 of id), base64url."""


class RecordIds:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cipher = lru_cache(maxsize=1024)(self._new_cipher)

    def _new_cipher(self, partner: str) -> AESSIV:
        return AESSIV(self.store.partner_key(partner, "record-id"))

    def encode(self, partner: str, kind: str, record_id: int, use: str = "id") -> str:
        sealed = self._cipher(partner).encrypt(
            struct.pack(">Q", record_id), [kind.encode(), use.encode()]
        )
        return b64url_encode(sealed)

    def decode(self, partner: str, kind: str, token: str, use: str = "id") -> int | None:
        """The database id behind ``token``, or None if it is not one the hub gave this
        partner for this kind (forged, another partner's, another kind's)."""
        try:
            raw = b64url_decode(token)
            clear = self._cipher(partner).decrypt(raw, [kind.encode(), use.encode()])
        except (InvalidTag, ValueError):
            return None
        if len(clear) != 8:
            return None
        value: int = struct.unpack(">Q", clear)[0]
        return value
