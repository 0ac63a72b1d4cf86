"""The cryptography a hub is built on, chosen once when it is made (``hub init --crypto``).

Two suites, one interface (``CryptoSuite``); everything that seals, indexes, hashes or
signs asks the suite of its keyring, so the choice is a deployment setting, not a fork:

=================  ===========================  ====================================
use                ``standard``                 ``gm`` (national commercial suite)
=================  ===========================  ====================================
sealed fields      AES-256-GCM                  SM4-GCM (GB/T 32907, 128-bit key)
blind index,       HMAC-SHA256                  HMAC-SM3 (GB/T 32905)
pseudonyms,
partner keys
audit tree         SHA-256 (RFC 9162 hashing)   SM3, the same RFC 9162 construction
signatures         Ed25519                      SM2 (GB/T 32918, GM/T 0009 user id
                                                ``1234567812345678``), SM3 digest
=================  ===========================  ====================================

Both seal with a 12-byte random nonce and a 16-byte tag, so a sealed value has the same
layout (``<key id>.<base64url(nonce | ciphertext | tag)>``) under either. SM4 and SM3
come from ``cryptography`` (its OpenSSL has SM4 in GCM mode through ``Cipher``, though no
AEAD class); SM2 comes from ``tongsuopy``, the Python binding of Tongsuo (the
OpenSSL fork maintained by the Ant Group / OpenAtom project for the SM algorithms),
which signs in ~0.3 ms where the pure-Python ``gmalg`` takes ~150 ms.

A signing key is its raw 32-byte private scalar (Ed25519 seed or SM2 private value),
so the key file keeps the same shape under both; an SM2 public key is the 65-byte
uncompressed point, an SM2 signature its fixed 64 bytes ``r || s`` (not DER), so a
signature has one length, as Ed25519's has.

The suite of a hub is written in its key file (``suite``); a key file without one is a
``standard`` hub (every hub before the choice existed). ``HUB_CRYPTO`` names the suite a
new keyring gets when none is asked for, so a whole deployment (or test run) can choose it.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.errors import KeyringError

STANDARD: Final = "standard"
GM: Final = "gm"
SUITE_ENV: Final = "HUB_CRYPTO"
"""The environment variable naming the suite of keyrings made without a choice."""

NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16


class CryptoSuite(Protocol):
    """What a hub needs of its cryptography. Keys are bytes; nothing here keeps state."""

    @property
    def name(self) -> str: ...

    @property
    def hash_name(self) -> str:
        """The hash, as ``hmac``/``hashlib`` name it (``sha256``, ``sm3``)."""
        ...

    @property
    def signature_name(self) -> str:
        """The signature algorithm (``Ed25519``, ``SM2``)."""
        ...

    def new_data_key(self) -> bytes: ...

    def seal(self, key: bytes, nonce: bytes, clear: bytes, context: bytes) -> bytes:
        """Ciphertext and tag of ``clear``, ``context`` authenticated with it."""
        ...

    def open(self, key: bytes, nonce: bytes, sealed: bytes, context: bytes) -> bytes:
        """The clear text; ``KeyringError`` if the tag does not hold."""
        ...

    def digest(self, data: bytes) -> bytes: ...

    def mac(self, key: bytes) -> Any:
        """A fresh keyed MAC (``update``, ``copy``, ``digest``, ``hexdigest``)."""
        ...

    def new_signing_key(self) -> bytes: ...

    def public_key(self, private: bytes) -> bytes: ...

    def sign(self, private: bytes, message: bytes) -> bytes: ...

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool: ...


@dataclass(frozen=True)
class StandardSuite:
    """AES-256-GCM, HMAC-SHA256, SHA-256, Ed25519: the hub's suite before the choice."""

    name: str = STANDARD
    hash_name: str = "sha256"
    signature_name: str = "Ed25519"

    def new_data_key(self) -> bytes:
        return AESGCM.generate_key(bit_length=256)

    def seal(self, key: bytes, nonce: bytes, clear: bytes, context: bytes) -> bytes:
        return _aesgcm(key).encrypt(nonce, clear, context)

    def open(self, key: bytes, nonce: bytes, sealed: bytes, context: bytes) -> bytes:
        try:
            return _aesgcm(key).decrypt(nonce, sealed, context)
        except InvalidTag:
            raise KeyringError("the sealed value fails authentication") from None

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def mac(self, key: bytes) -> Any:
        return std_hmac.new(key, digestmod="sha256")

    def new_signing_key(self) -> bytes:
        return secrets.token_bytes(32)

    def public_key(self, private: bytes) -> bytes:
        public = Ed25519PrivateKey.from_private_bytes(private).public_key()
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, private: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private).sign(message)

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


SM2_USER_ID: Final = b"1234567812345678"
"""The signer's distinguishing id in Z_A (GM/T 0009-2012 §10, the default of GB/T 35276):
the one Tongsuo uses when none is set, checked by a known-answer test."""

_SM2_ORDER: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


@dataclass(frozen=True)
class GmSuite:
    """SM4-GCM, HMAC-SM3, SM3, SM2: the national commercial cryptography suite."""

    name: str = GM
    hash_name: str = "sm3"
    signature_name: str = "SM2"

    def new_data_key(self) -> bytes:
        return os.urandom(16)

    def seal(self, key: bytes, nonce: bytes, clear: bytes, context: bytes) -> bytes:
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(context)
        body = encryptor.update(clear) + encryptor.finalize()
        return body + encryptor.tag

    def open(self, key: bytes, nonce: bytes, sealed: bytes, context: bytes) -> bytes:
        if len(sealed) < TAG_BYTES:
            raise KeyringError("the sealed value is too short to hold its tag")
        body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(context)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag:
            raise KeyringError("the sealed value fails authentication") from None

    def digest(self, data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    def mac(self, key: bytes) -> Any:
        return _Sm3Hmac(key)

    def new_signing_key(self) -> bytes:
        while True:  # a private value in [1, n - 2] (GB/T 32918.1 §6.1)
            value = secrets.randbelow(_SM2_ORDER - 1)
            if value >= 1:
                return value.to_bytes(32, "big")

    def public_key(self, private: bytes) -> bytes:
        from tongsuopy.crypto import serialization

        raw: bytes = (
            _sm2_private(private)
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        return raw

    def sign(self, private: bytes, message: bytes) -> bytes:
        from tongsuopy.crypto import hashes as t_hashes
        from tongsuopy.crypto.asymciphers import ec

        der = _sm2_private(private).sign(message, ec.ECDSA(t_hashes.SM3()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool:
        from tongsuopy.crypto import exceptions
        from tongsuopy.crypto import hashes as t_hashes
        from tongsuopy.crypto.asymciphers import ec

        if len(signature) != 64 or len(public) != 65:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), public)
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(t_hashes.SM3()))
        except (exceptions.InvalidSignature, ValueError):
            return False
        return True


class _Sm3Hmac:
    """HMAC-SM3 with the ``hmac`` object's shape (``copy`` to reuse a keyed state)."""

    def __init__(self, key: bytes, state: Any = None) -> None:
        from cryptography.hazmat.primitives import hmac

        self._h = state if state is not None else hmac.HMAC(key, hashes.SM3())

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def copy(self) -> _Sm3Hmac:
        return _Sm3Hmac(b"", self._h.copy())

    def digest(self) -> bytes:
        done: bytes = self._h.copy().finalize()
        return done

    def hexdigest(self) -> str:
        return self.digest().hex()


@lru_cache(maxsize=64)
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


@lru_cache(maxsize=16)
def _sm2_private(private: bytes) -> Any:
    from tongsuopy.crypto.asymciphers import ec

    return ec.derive_private_key(int.from_bytes(private, "big"), ec.SM2())


class Sm2PublicKey:
    """An SM2 public key with the shape of ``Ed25519PublicKey`` that the audit log uses
    (``verify`` raising ``InvalidSignature``, ``public_bytes(Raw, Raw)``: the 65-byte point)."""

    def __init__(self, point: bytes) -> None:
        if len(point) != 65 or point[0] != 4:
            raise ValueError("an SM2 public key is a 65-byte uncompressed point")
        self._point = point

    @classmethod
    def from_public_bytes(cls, data: bytes) -> Sm2PublicKey:
        return cls(data)

    def public_bytes(self, encoding: Encoding, format: PublicFormat) -> bytes:
        if (encoding, format) != (Encoding.Raw, PublicFormat.Raw):
            raise ValueError("an SM2 public key is given raw only")
        return self._point

    def verify(self, signature: bytes, data: bytes) -> None:
        if not GmSuite().verify(self._point, signature, data):
            raise InvalidSignature

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)


class Sm2PrivateKey:
    """An SM2 private key with the shape of ``Ed25519PrivateKey`` that the audit log uses
    (``sign``, ``public_key``, ``private_bytes(Raw, Raw, NoEncryption)``: the 32-byte
    private value). Its repr shows no key material."""

    def __init__(self, private: bytes) -> None:
        if len(private) != 32:
            raise ValueError("an SM2 private key is 32 bytes")
        self._private = private

    @classmethod
    def from_private_bytes(cls, data: bytes) -> Sm2PrivateKey:
        return cls(data)

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        return cls(GmSuite().new_signing_key())

    def sign(self, data: bytes) -> bytes:
        return GmSuite().sign(self._private, data)

    def public_key(self) -> Sm2PublicKey:
        return Sm2PublicKey(GmSuite().public_key(self._private))

    def private_bytes(self, encoding: Encoding, format: Any, encryption: Any) -> bytes:
        if encoding != Encoding.Raw:
            raise ValueError("an SM2 private key is given raw only")
        return self._private

    def __repr__(self) -> str:
        return "Sm2PrivateKey(...)"


SigningKey = Ed25519PrivateKey | Sm2PrivateKey
"""A key that signs checkpoints: Ed25519 (``standard``) or SM2 (``gm``)."""
PublicKey = Ed25519PublicKey | Sm2PublicKey


def signing_key(suite: CryptoSuite, private: bytes) -> SigningKey:
    """The signing key of ``suite`` whose raw private half is ``private``."""
    if suite.name == GM:
        return Sm2PrivateKey(private)
    return Ed25519PrivateKey.from_private_bytes(private)


def suite_of_key(key: SigningKey | PublicKey) -> CryptoSuite:
    """The suite a signing or public key belongs to: an audit log's tree hash follows the
    algorithm of its key, so a verifier holding only the public key knows it."""
    return SUITES[GM] if isinstance(key, Sm2PrivateKey | Sm2PublicKey) else SUITES[STANDARD]


SUITES: Final[dict[str, CryptoSuite]] = {STANDARD: StandardSuite(), GM: GmSuite()}


def suite_named(name: str) -> CryptoSuite:
    """The suite called ``name``; ``KeyringError`` naming the known ones otherwise."""
    try:
        return SUITES[name]
    except KeyError:
        known = ", ".join(sorted(SUITES))
        raise KeyringError(f"no crypto suite {name!r} (known: {known})") from None


def default_suite() -> CryptoSuite:
    """The suite of a keyring made without a choice: ``HUB_CRYPTO``, else ``standard``."""
    return suite_named(os.environ.get(SUITE_ENV) or STANDARD)
