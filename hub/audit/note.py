"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more named keys.

A note is UTF-8 text ending in a newline, a blank line, then one line per signature::

    — <key name> <base64(4-byte key id || signature)>

(U+2014 em dash, then a space). The text is everything up to and including the newline
before the *last* blank line. No ASCII control character other than newline may appear
anywhere. Key names are non-empty, hold no Unicode space and no ``+``.

A key is named by the pair (name, key id); the key id is the first four bytes, big-endian,
of ``SHA-256(name || 0x0A || signature type || public key)`` (SHA-256 under either crypto
suite: the spec fixes it, and the id is a name, not a proof). Three types are known here:

- ``0x01`` (``ED25519``): the signature is Ed25519 over the note text.
- ``0x04`` (``COSIGNATURE_V1``, c2sp.org/tlog-cosignature): the signature is an 8-byte
  big-endian POSIX timestamp followed by Ed25519 over
  ``"cosignature/v1\\ntime <timestamp>\\n" || note text``. Witnesses sign checkpoints this
  way; see ``hub.audit.checkpoint.cosign``.
- ``0xff || "gm/sm2-sm3"`` (``SM2``): SM2 (GB/T 32918.2, user id ``1234567812345678``,
  SM3 digest) over the note text; the signature is its fixed 64 bytes ``r || s`` and the
  public key the 65-byte uncompressed point. The spec assigns SM2 no byte of its own and
  reserves ``0xff`` for such types, "followed by a longer identifier": this is the hub's.
  The checkpoints of a hub made with the ``gm`` crypto suite are signed this way; witnesses
  keep cosigning with Ed25519 (0x04), the only cosignature type tlog-cosignature defines.

Key strings: a verifier key (vkey) is ``<name>+<8 hex key id>+<base64(signature type ||
public key)>``; a signer key is ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(type || 32-byte
seed or SM2 private value)>`` and must be kept as secret as the private key itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Protocol, Self

from cryptography.exceptions import InvalidSignature as _BadSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from hub.audit.errors import (
    InvalidSignature,
    MalformedKey,
    MalformedNote,
    Unverified,
)
from hub.store.suite import PublicKey, SigningKey, Sm2PrivateKey, Sm2PublicKey

ED25519: Final = 0x01
"""Signature type of plain Ed25519 note signatures."""
COSIGNATURE_V1: Final = 0x04
"""Signature type of timestamped Ed25519 checkpoint cosignatures (tlog-cosignature)."""
SM2: Final = 0xFF
"""Signature type of SM2 note signatures: 0xff followed by ``SM2_IDENTIFIER``."""
SM2_IDENTIFIER: Final = b"gm/sm2-sm3"

_TYPE_BYTES: Final = {
    ED25519: bytes([ED25519]),
    COSIGNATURE_V1: bytes([COSIGNATURE_V1]),
    SM2: bytes([SM2]) + SM2_IDENTIFIER,
}

MAX_SIGNATURES: Final = 100
"""A note with more signature lines is refused (the spec asks verifiers to accept 16)."""

MAX_TIMESTAMP: Final = 2**63 - 1
"""The largest cosignature timestamp the spec allows."""

_DASH: Final = "— "
_HEX_ID = re.compile(r"[0-9a-f]{8}")
_COSIGNATURE_HEADER: Final = b"cosignature/v1\ntime "


def note_key_id(name: str, algorithm: int, public_key: bytes) -> int:
    """The spec's key id: ``SHA-256(name || 0x0A || algorithm || public_key)[:4]``,
    big-endian. (Not ``hub.store.keyring.ed25519_key_id``, which hashes the key only.)"""
    digest = hashlib.sha256(name.encode() + b"\n" + _TYPE_BYTES[algorithm] + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_name(name: str) -> bool:
    """Non-empty, valid Unicode text with no Unicode space, no ``+`` and no control
    character (the last could never appear in a note)."""
    return (
        name != ""
        and "+" not in name
        and not any(c.isspace() or c < " " for c in name)
        and _encodes(name)
    )


def verifier_key(name: str, public_key: PublicKey, algorithm: int | None = None) -> str:
    """The vkey string of ``public_key`` under ``name``, for note signatures (``ED25519``
    or ``SM2``, by the key) or, with ``algorithm=COSIGNATURE_V1``, a witness's cosignatures."""
    return Verifier(name, public_key, algorithm).vkey()


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note: the key it names and the signature bytes after the key
    id. ``verified`` is True only when a known key verified it."""

    name: str
    key_id: int
    signature: bytes
    verified: bool = False

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{_DASH}{self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"

    @classmethod
    def parse(cls, line: str) -> Signature:
        """Parse one signature line (with or without its final newline).

        Checked: the em dash and space, a valid key name, a single space, standard padded
        base64 (RFC 4648 section 4, nothing after it) of at least 5 bytes.
        """
        line = line.removesuffix("\n")
        if not line.startswith(_DASH):
            raise MalformedNote("bad_dash", "a signature line must begin with '— '")
        name, space, encoded = line[len(_DASH) :].partition(" ")
        if not space or not encoded:
            raise MalformedNote("bad_signature_line", "a signature line is '— <name> <base64>'")
        if not is_valid_name(name):
            raise MalformedNote("bad_name", f"signature key name {name!r} is not valid")
        raw = _unb64(encoded)
        if raw is None or len(raw) < 5:
            raise MalformedNote("bad_base64", f"the signature by {name} is not base64 of 5+ bytes")
        return cls(name, int.from_bytes(raw[:4], "big"), raw[4:])


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text and every signature in it, in the note's order."""

    text: str
    signatures: tuple[Signature, ...]

    @property
    def verified(self) -> tuple[Signature, ...]:
        return tuple(s for s in self.signatures if s.verified)

    @property
    def unverified(self) -> tuple[Signature, ...]:
        """Signatures by keys that were not given: kept, never trusted."""
        return tuple(s for s in self.signatures if not s.verified)

    def signed_by(self, verifier: Verifier) -> Signature | None:
        """The verified signature by ``verifier``'s key, if there is one."""
        for s in self.verified:
            if (s.name, s.key_id) == (verifier.name, verifier.key_id):
                return s
        return None


class NoteSigner(Protocol):
    """What ``sign_note`` needs of a key: its name, key id and a signature over the text."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes: ...


class Verifier:
    """One known public key: checks signatures that name it by (name, key id)."""

    def __init__(self, name: str, public_key: PublicKey, algorithm: int | None = None) -> None:
        _check_name(name)
        sm2 = isinstance(public_key, Sm2PublicKey)
        if algorithm is None:
            algorithm = SM2 if sm2 else ED25519
        if algorithm not in _TYPE_BYTES:
            raise MalformedKey("unknown_algorithm", f"signature type {algorithm:#04x} is not known")
        if sm2 != (algorithm == SM2):
            raise MalformedKey("unknown_algorithm", "SM2 keys sign type 0xff, Ed25519 keys not")
        self.name = name
        self.algorithm = algorithm
        self.public_key = public_key
        self._raw = _raw_public(public_key)
        self.key_id = note_key_id(name, algorithm, self._raw)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """A verifier from its vkey string.

        Checked: three ``+``-separated parts; a valid name; exactly 8 lowercase hex digits;
        standard padded base64 of a known signature type (0x01 or 0x04 and 32 key bytes,
        or 0xff, the SM2 identifier and a 65-byte point); and that the key id is the one
        computed from name, type and key.
        """
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        if not is_valid_name(name):
            raise MalformedKey("bad_name", f"vkey name {name!r} is not valid")
        raw = _unb64(encoded)
        if _HEX_ID.fullmatch(hex_id) is None or raw is None or len(raw) == 0:
            raise MalformedKey("bad_vkey", "a vkey is <name>+<8 hex digits>+<base64 key>")
        algorithm = raw[0]
        prefix = _TYPE_BYTES.get(algorithm)
        if prefix is None or not raw.startswith(prefix):
            raise MalformedKey("unknown_algorithm", f"vkey signature type {raw[0]:#04x}")
        key_bytes = raw[len(prefix) :]
        if len(key_bytes) != (65 if algorithm == SM2 else 32):
            raise MalformedKey("bad_vkey", "a vkey holds a 32-byte Ed25519 or 65-byte SM2 key")
        if int(hex_id, 16) != note_key_id(name, algorithm, key_bytes):
            raise MalformedKey("key_id_mismatch", f"vkey {name}+{hex_id}: key id is not the key's")
        public_key: PublicKey
        try:
            if algorithm == SM2:
                public_key = Sm2PublicKey(key_bytes)
            else:
                public_key = Ed25519PublicKey.from_public_bytes(key_bytes)
        except ValueError:
            raise MalformedKey("bad_vkey", f"vkey {name}+{hex_id} holds no valid key") from None
        return cls(name, public_key, algorithm)

    def vkey(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64(_TYPE_BYTES[self.algorithm] + self._raw)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key id) is this key's over ``text``:
        Ed25519 or SM2 over the text, or for ``COSIGNATURE_V1`` a timestamp of at most
        2^63 - 1 and Ed25519 over the cosigned message at that time."""
        message = text
        if self.algorithm == COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                return False
            message, signature = cosigned_message(text, timestamp), signature[8:]
        try:
            self.public_key.verify(signature, message)
        except (_BadSignature, ValueError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and (self.name, self.algorithm, self._raw) == (
            other.name,
            other.algorithm,
            other._raw,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.algorithm, self._raw))

    def __repr__(self) -> str:
        return f"Verifier({self.vkey()!r})"


class Signer:
    """A key that signs note texts under ``name``: Ed25519 (type 0x01) or SM2 (0xff)."""

    algorithm: int = ED25519

    def __init__(self, name: str, private_key: SigningKey) -> None:
        _check_name(name)
        if isinstance(private_key, Sm2PrivateKey):
            if self.algorithm != ED25519:
                raise MalformedKey("unknown_algorithm", "cosignatures are Ed25519 (0x04)")
            self.algorithm = SM2
        self.name = name
        self._key = private_key
        self.key_id = note_key_id(name, self.algorithm, _raw_public(private_key.public_key()))

    @classmethod
    def parse(cls, skey: str) -> Self:
        """A signer from its ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` string.

        Checked: the prefix, a valid name, 8 lowercase hex digits, base64 of 0x01 and a
        32-byte seed (or of the SM2 type and a 32-byte private value), and that the key id
        is the one of the public key derived from it.
        """
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise MalformedKey("bad_skey", "a signer key is PRIVATE+KEY+<name>+<id>+<key>")
        name, hex_id, encoded = parts[2:]
        if not is_valid_name(name):
            raise MalformedKey("bad_name", f"signer key name {name!r} is not valid")
        raw = _unb64(encoded)
        if _HEX_ID.fullmatch(hex_id) is None or raw is None or len(raw) < 33:
            raise MalformedKey("bad_skey", "a signer key holds a type and a 32-byte seed")
        key: SigningKey
        if raw[0] == ED25519 and len(raw) == 33:
            key = Ed25519PrivateKey.from_private_bytes(raw[1:])
        elif raw.startswith(_TYPE_BYTES[SM2]) and len(raw) == len(_TYPE_BYTES[SM2]) + 32:
            key = Sm2PrivateKey(raw[len(_TYPE_BYTES[SM2]) :])
        else:
            raise MalformedKey("unknown_algorithm", f"signer key type {raw[0]:#04x}")
        signer = cls(name, key)
        if int(hex_id, 16) != signer._skey_id():
            raise MalformedKey("key_id_mismatch", f"signer key {name}+{hex_id}: wrong key id")
        return signer

    def skey(self) -> str:
        """The signer key string: a secret, like the private key. For Ed25519 it is always
        the type 0x01 string (as Go's ``note.GenerateKey`` writes it), also for a
        ``Cosigner``; for SM2 the 0xff one."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        kind = _TYPE_BYTES[self._skey_type()]
        return f"PRIVATE+KEY+{self.name}+{self._skey_id():08x}+{_b64(kind + seed)}"

    def _skey_type(self) -> int:
        return SM2 if isinstance(self._key, Sm2PrivateKey) else ED25519

    def _skey_id(self) -> int:
        return note_key_id(self.name, self._skey_type(), _raw_public(self._key.public_key()))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self._key.public_key(), self.algorithm)

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)


class Cosigner(Signer):
    """A witness's Ed25519 key that cosigns checkpoints (signature type 0x04).

    Its signature is ``timestamp (8 bytes, big-endian) || Ed25519(cosigned message)``, the
    timestamp being ``clock()`` in whole seconds. Its key id is computed with type 0x04,
    so the same key never names a note signature and a cosignature alike; its signer key
    string (``skey``, ``parse``) is the ordinary type 0x01 one. It signs whatever text it is
    given: use ``hub.audit.checkpoint.cosign``, which only takes a checkpoint.
    """

    algorithm = COSIGNATURE_V1

    def __init__(
        self, name: str, private_key: Ed25519PrivateKey, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(name, private_key)
        self._clock = clock

    def sign(self, text: bytes) -> bytes:
        return self.sign_at(text, int(self._clock()))

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise MalformedNote("bad_timestamp", f"timestamp {timestamp} is out of range")
        signature = self._key.sign(cosigned_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + signature


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: ``cosignature/v1\\ntime <timestamp>\\n`` + text."""
    return _COSIGNATURE_HEADER + str(timestamp).encode() + b"\n" + text


def cosignature_timestamp(signature: Signature) -> int:
    """The timestamp a ``cosignature/v1`` signature states, without verifying it.

    Checked: 72 bytes after the key id, timestamp at most 2^63 - 1.
    """
    if len(signature.signature) != 72:
        raise MalformedNote("bad_signature_line", f"{signature.name}'s is not a cosignature/v1")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedNote("bad_timestamp", f"cosignature timestamp {timestamp} is out of range")
    return timestamp


def sign_note(text: str, *signers: NoteSigner) -> str:
    """``text`` followed by a blank line and one signature line per signer, in order.

    Checked: the text is valid UTF-8 text, ends with a newline and holds no control
    character other than newline; at least one signer; each signer's name is valid; no two
    signers share a name and key id.
    """
    _check_text(text)
    if not signers:
        raise MalformedNote("no_signatures", "a signed note needs at least one signer")
    raw = text.encode()
    lines, seen = [], set()
    for signer in signers:
        if not is_valid_name(signer.name):
            raise MalformedKey("bad_name", f"signer name {signer.name!r} is not valid")
        if (signer.name, signer.key_id) in seen:
            raise MalformedKey("ambiguous_key", f"{signer.name}+{signer.key_id:08x} signs twice")
        seen.add((signer.name, signer.key_id))
        lines.append(Signature(signer.name, signer.key_id, signer.sign(raw)).line())
    return text + "\n" + "".join(lines)


def add_signatures(note: str, *lines: str) -> str:
    """``note`` with signature ``lines`` (such as cosignatures) appended after its own.

    Checked: the note parses (signatures are not verified here), each line parses, and no
    line repeats a (name, key id) already in the note.
    """
    _, signatures = _split(note)
    have = {(s.name, s.key_id) for s in signatures}
    added = []
    for line in lines:
        s = Signature.parse(line)
        if (s.name, s.key_id) in have:
            raise MalformedNote("bad_signature_line", f"{s.name}+{s.key_id:08x} already signed")
        have.add((s.name, s.key_id))
        added.append(s.line())
    if len(signatures) + len(added) > MAX_SIGNATURES:
        raise MalformedNote("too_many_signatures", f"more than {MAX_SIGNATURES} signatures")
    return note + "".join(added)


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse ``note`` and verify the signatures of the known keys ``verifiers``.

    Checked, in order: valid UTF-8; no control character other than newline; a blank line
    followed by at least one signature line, each ending in a newline and parsing (see
    ``Signature.parse``); at most ``MAX_SIGNATURES`` lines. Then every signature whose
    (name, key id) is a verifier's is verified, all of them, repeats included: one that
    fails raises ``InvalidSignature``. A repeated verified signature by one key is kept
    once; other signatures are kept unverified (identical repeated lines once) and never
    trusted. At least one verifier must have signed, or ``Unverified`` is raised
    (``no_known_signature``). Which keys must all have signed is the caller's to check
    (``Note.signed_by``).
    """
    known = _index(verifiers)
    text, parsed = _split(note)
    raw = text.encode()
    kept: list[Signature] = []
    seen: set[tuple[str, int, bytes]] = set()
    verified: set[tuple[str, int]] = set()
    for s in parsed:
        verifier = known.get((s.name, s.key_id))
        if verifier is None:
            if (s.name, s.key_id, s.signature) not in seen:
                kept.append(s)
            seen.add((s.name, s.key_id, s.signature))
            continue
        if not verifier.verify(raw, s.signature):
            raise InvalidSignature(s.name, s.key_id)
        if (s.name, s.key_id) not in verified:
            kept.append(Signature(s.name, s.key_id, s.signature, verified=True))
        verified.add((s.name, s.key_id))
    result = Note(text, tuple(kept))
    if not verified:
        raise Unverified("no_known_signature", "no known key signed this note", result)
    return result


def _split(note: str | bytes) -> tuple[str, list[Signature]]:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNote("not_utf8", "a note must be valid UTF-8") from None
    elif not _encodes(note):
        raise MalformedNote("not_utf8", "a note must be valid UTF-8")
    if any(c < " " and c != "\n" for c in note):
        raise MalformedNote("control_character", "a note holds no control character but newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no_blank_line", "no blank line separates the text from signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise MalformedNote("no_signatures", "a signed note has at least one signature line")
    if not block.endswith("\n"):
        raise MalformedNote("no_final_newline", "the last signature line must end in newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote("too_many_signatures", f"more than {MAX_SIGNATURES} signatures")
    return text, [Signature.parse(line) for line in lines]


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if other != v:
            raise MalformedKey("ambiguous_key", f"two keys are {v.name}+{v.key_id:08x}")
    return known


def _check_text(text: str) -> None:
    if not _encodes(text):
        raise MalformedNote("not_utf8", "note text must be valid Unicode")
    if not text.endswith("\n"):
        raise MalformedNote("no_final_newline", "note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise MalformedNote("control_character", "note text holds no control character but newline")


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise MalformedKey("bad_name", f"key name {name!r} is empty or holds a space or '+'")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _raw_public(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes | None:
    """Standard padded base64, nothing else: no whitespace, no URL alphabet."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
