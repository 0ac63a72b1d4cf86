"""Keys that protect data at rest: AES-GCM data keys (rotating), the blind-index key
(rotating), the partner-key root and the audit signing key.

The key file lives in the hub home, outside the database, mode 0600. Each ciphertext
names the key that made it (``<key id>.<base64url(nonce | ciphertext)>``), so adding a new
active key never strands old values. The ciphertext is bound to its column through the
associated data (``kind.field``): a value copied into another column does not decrypt.

The blind index is HMAC-SHA256 over the normalised clear value, with one key and no
per-column domain, on purpose: equal ID numbers in ``person.id_number`` and
``house.owner_id_number`` must index equal, because that is how records are linked.
Its key (``index_key``, named by an id derived from it) is re-keyed by
``hub.store.reindex``: ``next_index_key`` is the new key while a rotation fills its map,
and once every row has moved the old key is kept under ``retired_index_keys``, with its
material: audit entries are immutable and name sealed values by their blind index under
the key of their day, so subject access indexes a number under every key the log was
written with. A retired index key is used for nothing else.

The partner root (``partner_root``) is what every partner's own keys derive from
(pseudonyms, per-partner record ids: ``Store.partner_key``). It was the index key until
the two were split; a key file without one takes its index key as the root, so partners'
ids and pseudonyms stay what they were across the split and every later index rotation.

Data keys are rotated by ``hub.store.rotation``: ``rotate()`` adds the new active key,
every sealed value is moved to it, and only then ``retire()`` removes the old key's
material from the key file, keeping its id (and when) under ``retired``.

The suite (``hub.store.suite``: ``standard`` or ``gm``) seals, indexes and derives
every value here; the key file names it (``suite``; none is ``standard``) and a hub
keeps the suite it was made with: ``load`` refuses a key file of another suite than the
one asked for, and there is no conversion between them.

The audit key (optional, so older key files still load) is the raw private key (an
Ed25519 seed, or under ``gm`` the SM2 private value, both 32 bytes) that signs the audit
log's checkpoints; its id is a digest of the public key, so anyone holding only the
public key can tell which checkpoints it should verify. It is rotated by
``hub.audit.log.AuditLog.hand_over``: ``start_audit_rotation`` saves the next key before
the log names it, ``finish_audit_rotation`` drops the old key's material once it has. The
log's origin stays the one its first key named (``audit_first``, the first key's raw
public half, kept from the first rotation on).
"""

from __future__ import annotations

import copy
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.encoding import b64url_decode, b64url_encode
from hub.errors import KeyringError
from hub.store.suite import (
    STANDARD,
    CryptoSuite,
    PublicKey,
    SigningKey,
    Sm2PublicKey,
    default_suite,
    signing_key,
    suite_named,
)

_NONCE_BYTES = 12


def _new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def ed25519_key_id(public_key: PublicKey) -> str:
    """The id of an audit key (Ed25519 or SM2): a digest of its raw public half."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:8]


@cache
def index_key_id(key: bytes) -> str:
    """The id of blind-index key ``key``: a keyed digest of a fixed label, so key files
    that never named their index key (and every later one) agree on it without storing it."""
    return "i" + hmac.new(key, b"hub index key id", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class RetiredIndexKey:
    """An index key every row has moved off: kept only to find audit entries made under it."""

    key: bytes = field(repr=False)
    retired: str
    """When (ISO UTC)."""


@dataclass
class Keyring:
    """Key material never shows in a repr (a traceback's locals, a log line): ids only."""

    data_keys: dict[str, bytes] = field(repr=False)
    active: str
    index_key: bytes = field(repr=False)
    """The blind-index key in force (as the key file knows it; the database may already
    have switched to ``next_index_key``: ``hub.store.indexstate``)."""
    audit_key: bytes | None = field(default=None, repr=False)
    retired: dict[str, str] = field(default_factory=dict)
    """Ids of data keys that were retired (their material is gone), with when (ISO UTC)."""
    partner_root: bytes | None = field(default=None, repr=False)
    """The root of partners' keys; None takes the index key (a key file from before the
    split), which ``save`` then writes down."""
    next_index_key: bytes | None = field(default=None, repr=False)
    """The new blind-index key of an unfinished index rotation."""
    retired_index_keys: dict[str, RetiredIndexKey] = field(default_factory=dict)
    audit_next_key: bytes | None = field(default=None, repr=False)
    """The audit key of an unfinished rotation: saved here before the log hands over to it."""
    audit_first: bytes | None = None
    """The raw public key of the log's first audit key, once the key was rotated (before,
    it is the audit key's own): the log's origin names it, and verifying starts from it."""
    suite: CryptoSuite = field(default_factory=default_suite)
    """The cryptography of every key here (``hub.store.suite``)."""

    def __post_init__(self) -> None:
        if self.active not in self.data_keys:
            raise KeyringError(f"active key {self.active!r} is not in the keyring")
        for key in (self.audit_key, self.audit_next_key):
            if key is not None and len(key) != 32:
                raise KeyringError("an audit key must be a raw 32-byte private key")
        if self.partner_root is None:
            self.partner_root = self.index_key
        self._macs: dict[str, Any] = {}
        self._indexing = self.index_key_id
        self._base = self

    @classmethod
    def generate(cls, suite: CryptoSuite | str | None = None) -> Keyring:
        """A new keyring of ``suite`` (a suite or its name; default ``HUB_CRYPTO``)."""
        chosen = suite_named(suite) if isinstance(suite, str) else suite or default_suite()
        kid = _new_key_id()
        return cls(
            {kid: chosen.new_data_key()},
            kid,
            secrets.token_bytes(32),
            chosen.new_signing_key(),
            partner_root=secrets.token_bytes(32),
            suite=chosen,
        )

    def audit_signing_key(self) -> SigningKey:
        if self.audit_key is None:
            raise KeyringError("the key file holds no audit key")
        return signing_key(self.suite, self.audit_key)

    @property
    def audit_key_id(self) -> str | None:
        if self.audit_key is None:
            return None
        return ed25519_key_id(self.audit_signing_key().public_key())

    def audit_first_key(self) -> PublicKey:
        """The public half of the log's first audit key: what its origin names."""
        if self.audit_first is not None:
            return _public_key(self.suite, self.audit_first)
        return self.audit_signing_key().public_key()

    def audit_keys_held(self) -> list[SigningKey]:
        """The audit private keys in the file: the current one and, mid-rotation, the next."""
        held = [key for key in (self.audit_key, self.audit_next_key) if key is not None]
        return [signing_key(self.suite, key) for key in held]

    def start_audit_rotation(self) -> SigningKey:
        """The next audit key, made if none is waiting (a rotation resumed keeps its key)."""
        if self.audit_key is None:
            raise KeyringError("the key file holds no audit key")
        if self.audit_first is None:
            self.audit_first = _raw_public(self.audit_signing_key().public_key())
        if self.audit_next_key is None:
            self.audit_next_key = self.suite.new_signing_key()
        return signing_key(self.suite, self.audit_next_key)

    def finish_audit_rotation(self) -> None:
        """Make the next audit key the audit key, forgetting the old one's material. Call
        only once the log has handed over to it."""
        if self.audit_next_key is None:
            raise KeyringError("no audit key rotation to finish")
        self.audit_key, self.audit_next_key = self.audit_next_key, None

    def rotate(self) -> str:
        """Add a new data key and make it the one new values are encrypted with."""
        kid = _new_key_id()
        self.data_keys[kid] = self.suite.new_data_key()
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
        self.retired[kid] = _iso(at)

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        key = self.data_keys[self.active]
        sealed = self.suite.seal(key, nonce, plaintext.encode(), context.encode())
        return f"{self.active}.{b64url_encode(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, body = token.partition(".")
        key = self.data_keys.get(kid)
        if key is None:
            raise KeyringError(f"value for {context} was encrypted with unknown key {kid!r}")
        raw = b64url_decode(body)
        try:
            clear = self.suite.open(key, raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except KeyringError:
            raise KeyringError(f"value for {context} fails authentication") from None
        return clear.decode()

    def partner_key(self, label: bytes) -> bytes:
        """The suite's HMAC (HMAC-SHA256, HMAC-SM3) of ``label`` under the partner root."""
        root = self.index_key if self.partner_root is None else self.partner_root
        mac = self.suite.mac(root)
        mac.update(label)
        digest: bytes = mac.digest()
        return digest

    # --- the blind index -------------------------------------------------------------------

    @property
    def index_key_id(self) -> str:
        return index_key_id(self.index_key)

    @property
    def next_index_key_id(self) -> str | None:
        return None if self.next_index_key is None else index_key_id(self.next_index_key)

    def index_keys(self) -> dict[str, bytes]:
        """The index keys rows may be under: the one in force and, mid-rotation, the next."""
        held = {self.index_key_id: self.index_key}
        if self.next_index_key is not None:
            held[index_key_id(self.next_index_key)] = self.next_index_key
        return held

    def blind_index(self, value: str, key_id: str | None = None) -> str:
        """The blind index of ``value`` under index key ``key_id`` (default: the one this
        keyring indexes with, see ``indexing``)."""
        mac = self._mac(key_id or self._indexing).copy()
        mac.update(value.strip().upper().encode())
        digest: str = mac.hexdigest()[:32]
        return digest

    def _mac(self, key_id: str) -> Any:
        mac = self._macs.get(key_id)
        if mac is None:
            key = self.index_keys().get(key_id)
            if key is None and key_id in self.retired_index_keys:
                key = self.retired_index_keys[key_id].key
            if key is None:
                raise KeyringError(f"no index key {key_id!r} in the keyring")
            mac = self._macs[key_id] = self.suite.mac(key)
        return mac

    def indexing(self, key_id: str) -> Keyring:
        """This keyring, blind-indexing under ``key_id`` (one it holds): what a transaction
        writes with once the database names the key in force. Shares everything else;
        ``base`` is the keyring itself."""
        if key_id == self._indexing:
            return self
        if key_id not in self.index_keys():
            raise KeyringError(f"no index key {key_id!r} to index with")
        view = copy.copy(self)
        view._indexing = key_id
        return view

    @property
    def base(self) -> Keyring:
        """The keyring a view of ``indexing`` was made from (itself if it is none)."""
        return self._base

    @property
    def indexing_key_id(self) -> str:
        """The id of the index key ``blind_index`` uses by default."""
        return self._indexing

    def every_blind_index(self, value: str) -> list[str]:
        """``value`` under every index key there ever was (held or retired), for searching
        what no rotation rewrites: the audit log."""
        ids = [*self.index_keys(), *sorted(self.retired_index_keys)]
        return [self.blind_index(value, kid) for kid in ids]

    def start_index_rotation(self) -> str:
        """Add the next index key (not yet in force); returns its id."""
        if self.next_index_key is not None:
            raise KeyringError("an index rotation is already under way")
        self.next_index_key = secrets.token_bytes(32)
        return index_key_id(self.next_index_key)

    def finish_index_rotation(self, at: dt.datetime | None = None) -> str:
        """Put the next index key in force and keep the old one as retired; returns the
        old key's id. Call only once the database has switched (``hub.store.reindex``)."""
        if self.next_index_key is None:
            raise KeyringError("no index rotation to finish")
        old = self.index_key_id
        self.retired_index_keys[old] = RetiredIndexKey(self.index_key, _iso(at))
        self.index_key, self.next_index_key = self.next_index_key, None
        self._indexing = self.index_key_id
        return old

    # --- the key file ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        document: dict[str, Any] = {
            "format": 2,
            "suite": self.suite.name,
            "active": self.active,
            "data_keys": {kid: b64url_encode(key) for kid, key in self.data_keys.items()},
            "index_key": b64url_encode(self.index_key),
        }
        if self.partner_root is not None:
            document["partner_root"] = b64url_encode(self.partner_root)
        if self.next_index_key is not None:
            document["next_index_key"] = b64url_encode(self.next_index_key)
        if self.retired_index_keys:
            document["retired_index_keys"] = {
                kid: {"key": b64url_encode(old.key), "retired": old.retired}
                for kid, old in sorted(self.retired_index_keys.items())
            }
        if self.audit_key is not None:
            document["audit_key"] = b64url_encode(self.audit_key)
        if self.audit_next_key is not None:
            document["audit_next_key"] = b64url_encode(self.audit_next_key)
        if self.audit_first is not None:
            document["audit_first"] = b64url_encode(self.audit_first)
        if self.retired:
            document["retired"] = dict(sorted(self.retired.items()))
        _write_atomically(path, json.dumps(document, indent=2))

    @classmethod
    def load(cls, path: Path, suite: str | None = None) -> Keyring:
        """The keyring in key file ``path``; with ``suite``, refused unless it is of that
        suite (a hub keeps the suite it was made with)."""
        try:
            document = json.loads(path.read_text())
            recorded = str(document.get("suite", STANDARD))
            if suite is not None and recorded != suite:
                raise KeyringError(
                    f"key file {path} is of the {recorded!r} crypto suite, not {suite!r}: "
                    "a hub keeps the suite it was created with"
                )
            return cls(
                {kid: b64url_decode(key) for kid, key in document["data_keys"].items()},
                document["active"],
                b64url_decode(document["index_key"]),
                _optional_key(document, "audit_key"),
                {str(kid): str(at) for kid, at in document.get("retired", {}).items()},
                partner_root=_optional_key(document, "partner_root"),
                next_index_key=_optional_key(document, "next_index_key"),
                retired_index_keys={
                    str(kid): RetiredIndexKey(b64url_decode(old["key"]), str(old["retired"]))
                    for kid, old in document.get("retired_index_keys", {}).items()
                },
                audit_next_key=_optional_key(document, "audit_next_key"),
                audit_first=_optional_key(document, "audit_first"),
                suite=suite_named(recorded),
            )
        except FileNotFoundError:
            raise KeyringError(f"no key file at {path}; run `hub init`") from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise KeyringError(f"key file {path} is not readable: {exc}") from None


def _public_key(suite: CryptoSuite, raw: bytes) -> PublicKey:
    if suite.name == STANDARD:
        return Ed25519PublicKey.from_public_bytes(raw)
    return Sm2PublicKey(raw)


def _raw_public(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _optional_key(document: dict[str, Any], name: str) -> bytes | None:
    return b64url_decode(document[name]) if name in document else None


def _iso(at: dt.datetime | None) -> str:
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec="seconds")


@contextmanager
def key_file_lock(path: Path) -> Iterator[None]:
    """Hold the key file for a command that changes it (a rotation reads it, works for a
    while and saves it again): a second such command at the same time is refused rather
    than left to save over the first one's keys. Released when the process ends, killed
    or not (``flock``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KeyringError(
                f"another command is changing {path}; try again when it ends"
            ) from None
        yield
    finally:
        os.close(fd)


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
