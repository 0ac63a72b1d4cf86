"""base64url without padding (RFC 4648 §5, as JOSE writes it), for keys, salts and sealed values."""

from __future__ import annotations

import base64


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of ``text``, padded or not (binascii.Error, a ValueError, if malformed)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
