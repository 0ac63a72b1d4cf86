"""Errors of the authorization server and the token verifier.

AuthError (HubError)
 ├── TokenInvalid      an access token was refused; ``reason`` is a stable word for logs,
 │                     metrics and the ``error_description`` of a 401
 ├── ClientRejected    a client registration was refused (scope, claim, JWKS, name)
 └── UnknownClient     no registered client has that id
"""

from __future__ import annotations

from typing import Literal

from hub.errors import HubError

Reason = Literal[
    "malformed",
    "bad_alg",
    "wrong_type",
    "wrong_issuer",
    "wrong_audience",
    "unknown_key",
    "jwks_unavailable",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "unknown_client",
    "revoked",
]


class AuthError(HubError):
    pass


class TokenInvalid(AuthError):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


class ClientRejected(AuthError):
    pass


class UnknownClient(AuthError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client {client_id!r}")
        self.client_id = client_id
