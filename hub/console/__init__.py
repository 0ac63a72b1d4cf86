"""The operator console: accounts with separated duties, sessions, and the services the
pages call (transport-free; ``hub.web`` serves them)."""

from hub.console.accounts import IDLE_TIMEOUT, LOCK_FOR, MAX_FAILURES, Accounts, Operator, Session
from hub.console.auditor import Auditor
from hub.console.errors import (
    AccountError,
    BadInput,
    ConsoleError,
    CsrfRefused,
    Forbidden,
    NotFound,
    ReviewRefused,
    ReviewsClosed,
    SessionInvalid,
    SignInRefused,
)
from hub.console.provider import ProviderSignIn, Redirect
from hub.console.reviews import Desk, ReviewDesk
from hub.console.roles import ROLES, Area, Role
from hub.console.service import Console
from hub.console.settings import ConsoleSettings
from hub.console.steward import QuarantineFilter, Stewardship

__all__ = [
    "IDLE_TIMEOUT",
    "LOCK_FOR",
    "MAX_FAILURES",
    "ROLES",
    "AccountError",
    "Accounts",
    "Area",
    "Auditor",
    "BadInput",
    "Console",
    "ConsoleError",
    "ConsoleSettings",
    "CsrfRefused",
    "Desk",
    "Forbidden",
    "NotFound",
    "Operator",
    "ProviderSignIn",
    "QuarantineFilter",
    "Redirect",
    "ReviewDesk",
    "ReviewRefused",
    "ReviewsClosed",
    "Role",
    "Session",
    "SessionInvalid",
    "SignInRefused",
    "Stewardship",
]
