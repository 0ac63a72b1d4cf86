"""Errors of the operator console (the pages' accounts, sessions and services).

ConsoleError
 ├── AccountError        an account cannot be made as asked
 │    ├── UnknownRole     a role that is not one of ROLES
 │    ├── RolesConflict   duties the separation of duties keeps apart (三员分立)
 │    ├── AccountExists   the name is taken
 │    ├── NoSuchAccount   no account of that name (to link)
 │    ├── SubjectTaken    the provider identity is another account's, or not a subject
 │    └── WeakPassword    shorter than MIN_PASSWORD, or neither password nor identity
 ├── SignInRefused       wrong name or password, the account is locked, or a sign-in
 │                       through the OpenID Connect provider did not hold (``reason``)
 ├── SessionInvalid      no session, an unknown one, or one idle past the timeout
 ├── Forbidden           the operator's roles do not reach this page or action
 ├── CsrfRefused         a form posted without this session's CSRF token
 ├── NotFound            a page's object (a run, an entry, a policy version) does not exist
 ├── ReviewsClosed       no reviewing org in force for the review queue (``console.reviewer``)
 ├── ReviewRefused       the review service refused a step (``reason``: its stable code)
 └── BadInput            a filter or form value that does not parse (``field`` names it)

Each carries a stable ``reason`` word; none carries a password, a session token or a
value of a record.
"""

from __future__ import annotations

from hub.errors import HubError


class ConsoleError(HubError):
    reason = "console"


class AccountError(ConsoleError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"account {name!r}: {message}")
        self.name = name


class UnknownRole(AccountError):
    reason = "unknown_role"


class RolesConflict(AccountError):
    reason = "roles_conflict"


class AccountExists(AccountError):
    reason = "exists"


class NoSuchAccount(AccountError):
    reason = "no_account"


class SubjectTaken(AccountError):
    reason = "subject_taken"


class WeakPassword(AccountError):
    reason = "weak_password"


class SignInRefused(ConsoleError):
    """``reason``: ``unknown``, ``wrong_password`` or ``no_password`` (an account that
    signs in through the provider only), shown to the person as one message so a name
    cannot be probed; ``locked`` or ``locked_now``. Through the provider
    (``hub.console.provider.REASONS``): ``state``, ``provider_error``, ``token_request``,
    ``id_token`` problems named as the token verifier names them (``bad_signature``,
    ``wrong_issuer``, ``wrong_audience``, ``expired``, ``wrong_nonce`` …), and
    ``unknown_subject`` (no account is linked to the verified person)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"sign-in refused for {name!r}: {reason}")
        self.name = name
        self.reason = reason


class SessionInvalid(ConsoleError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"no valid session: {reason}")
        self.reason = reason


class Forbidden(ConsoleError):
    reason = "forbidden"

    def __init__(self, operator: str, area: str) -> None:
        super().__init__(f"{operator} may not reach {area}")
        self.operator = operator
        self.area = area


class CsrfRefused(ConsoleError):
    reason = "csrf"

    def __init__(self, operator: str | None, path: str) -> None:
        super().__init__(f"form posted to {path} without a valid CSRF token")
        self.operator = operator
        self.path = path


class NotFound(ConsoleError):
    reason = "not_found"


class ReviewsClosed(ConsoleError):
    reason = "reviews_closed"


class ReviewRefused(ConsoleError):
    """The review service's refusal (already audited with its own event): ``reason`` is
    its code (``already_decided``, ``reason_required``, ``denied_scope`` …)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BadInput(ConsoleError):
    reason = "bad_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
