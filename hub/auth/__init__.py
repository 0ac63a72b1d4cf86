"""The hub as an OAuth 2 authorization server for partner systems, and the verifier of
the tokens it (or a trusted identity provider) issues."""

from hub.auth.clients import Client, ClientRegistry, NewClient
from hub.auth.errors import AuthError, ClientRejected, Reason, TokenInvalid, UnknownClient
from hub.auth.keys import SigningKeys
from hub.auth.router import auth_router, create_auth_router
from hub.auth.scopes import SCOPES, policy_scopes
from hub.auth.server import AuditSink, HubAuthorizationServer
from hub.auth.settings import AuthSettings, ExternalIdP
from hub.auth.throttle import TokenLimits
from hub.auth.verify import AccessContext, TokenVerifier

__all__ = [
    "SCOPES",
    "AccessContext",
    "AuditSink",
    "AuthError",
    "AuthSettings",
    "Client",
    "ClientRegistry",
    "ClientRejected",
    "ExternalIdP",
    "HubAuthorizationServer",
    "NewClient",
    "Reason",
    "SigningKeys",
    "TokenInvalid",
    "TokenLimits",
    "TokenVerifier",
    "UnknownClient",
    "auth_router",
    "create_auth_router",
    "policy_scopes",
]
