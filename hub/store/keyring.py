"""Keys that protect data at rest: AES-GCM data keys (rotating) and the blind-index key.

The key file lives in the hub home, outside the database, mode 0600. Each ciphertext
names the key that made it (``<key id>.<base64url(nonce | ciphertext)>``), so adding a new
active key never strands old values. The ciphertext is bound to its column through the
associated data (``kind.field``): a value copied into another column does not decrypt.

The blind index is HMAC-SHA256 over the normalised clear value, with one key and no
per-column domain, on purpose: equal ID numbers in ``person.id_number`` and
``house.owner_id_number`` must index equal, because that is how records are linked.
Rotating the index key means re-indexing every row; it is not done yet.

Data keys are rotated by ``hub.store.rotation``: ``rotate()`` adds the new active key,
every sealed value is moved to it, and only then ``retire()`` removes the old key's
material from the key file, keeping its id (and when) under ``retired``.

The audit key (optional, so older key files still load) is the raw Ed25519 private key
that signs the audit log's checkpoints; its id is a digest of the public key, so anyone
holding only the public key can tell which checkpoints it should verify.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.encoding import b64url_decode, b64url_encode
from hub.errors import KeyringError

_NONCE_BYTES = 12


def _new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def ed25519_key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


@dataclass
class Keyring:
    data_keys: dict[str, bytes]
    active: str
    index_key: bytes
    audit_key: bytes | None = None
    retired: dict[str, str] = field(default_factory=dict)
    """Ids of data keys that were retired (their material is gone), with when (ISO UTC)."""

    def __post_init__(self) -> None:
        if self.active not in self.data_keys:
            raise KeyringError(f"active key {self.active!r} is not in the keyring")
        if self.audit_key is not None and len(self.audit_key) != 32:
            raise KeyringError("the audit key must be a raw 32-byte Ed25519 private key")
        self._ciphers = {kid: AESGCM(key) for kid, key in self.data_keys.items()}
        self._index_mac = hmac.new(self.index_key, digestmod="sha256")

    @classmethod
    def generate(cls) -> Keyring:
        kid = _new_key_id()
        return cls(
            {kid: AESGCM.generate_key(bit_length=256)},
            kid,
            secrets.token_bytes(32),
            secrets.token_bytes(32),
        )

    def audit_signing_key(self) -> Ed25519PrivateKey:
        if self.audit_key is None:
            raise KeyringError("the key file holds no audit key")
        return Ed25519PrivateKey.from_private_bytes(self.audit_key)

    @property
    def audit_key_id(self) -> str | None:
        if self.audit_key is None:
            return None
        return ed25519_key_id(self.audit_signing_key().public_key())

    def rotate(self) -> str:
        """Add a new data key and make it the one new values are encrypted with."""
        kid = _new_key_id()
        self.data_keys[kid] = AESGCM.generate_key(bit_length=256)
        self._ciphers[kid] = AESGCM(self.data_keys[kid])
        self.active = kid
        return kid

    @property
    def draining(self) -> list[str]:
        """Data keys still held that are not the active one: a rotation that has not yet
        moved every value off them (or an older keyring that was never rotated fully)."""
        return sorted(kid for kid in self.data_keys if kid != self.active)

    def key_id_of(self, token: str) -> str:
        """The id of the key a sealed value names (no decryption)."""
        return token.partition(".")[0]

    def retire(self, kid: str, at: dt.datetime | None = None) -> None:
        """Forget data key ``kid``: values still sealed under it no longer open, so call
        this only once none is left (``hub.store.rotation`` checks by a full scan)."""
        if kid == self.active:
            raise KeyringError("the active key cannot be retired")
        if kid not in self.data_keys:
            raise KeyringError(f"no data key {kid!r} to retire")
        del self.data_keys[kid]
        del self._ciphers[kid]
        moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self.retired[kid] = moment.isoformat(timespec="seconds")

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.active}.{b64url_encode(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, body = token.partition(".")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyringError(f"value for {context} was encrypted with unknown key {kid!r}")
        raw = b64url_decode(body)
        try:
            clear = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise KeyringError(f"value for {context} fails authentication") from None
        return clear.decode()

    def blind_index(self, value: str) -> str:
        mac = self._index_mac.copy()
        mac.update(value.strip().upper().encode())
        return mac.hexdigest()[:32]

    def save(self, path: Path) -> None:
        document = {
            "format": 1,
            "active": self.active,
            "data_keys": {kid: b64url_encode(key) for kid, key in self.data_keys.items()},
            "index_key": b64url_encode(self.index_key),
        }
        if self.audit_key is not None:
            document["audit_key"] = b64url_encode(self.audit_key)
        if self.retired:
            document["retired"] = dict(sorted(self.retired.items()))
        _write_atomically(path, json.dumps(document, indent=2))

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            document = json.loads(path.read_text())
            return cls(
                {kid: b64url_decode(key) for kid, key in document["data_keys"].items()},
                document["active"],
                b64url_decode(document["index_key"]),
                b64url_decode(document["audit_key"]) if "audit_key" in document else None,
                {str(kid): str(at) for kid, at in document.get("retired", {}).items()},
            )
        except FileNotFoundError:
            raise KeyringError(f"no key file at {path}; run `hub init`") from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise KeyringError(f"key file {path} is not readable: {exc}") from None


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` all at once (a crash leaves the old file or the new
    one, never half of either), mode 0600 from its first byte, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a stale one from a crash may have another mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
