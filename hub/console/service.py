"""The console as one object the pages are given: accounts, the steward's and the
auditor's services, the review desk, and the one check every page and action passes
(``authorize``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from hub.audit import AuditEvent, AuditLog
from hub.audit.patterns import AlertThresholds
from hub.auth.settings import OperatorIdP
from hub.console.accounts import Accounts, Session
from hub.console.auditor import Auditor
from hub.console.errors import CsrfRefused, Forbidden
from hub.console.operations import Operations
from hub.console.provider import ProviderSignIn
from hub.console.reviews import ReviewDesk
from hub.console.roles import Area, reaches
from hub.console.settings import ConsoleSettings
from hub.console.steward import Stewardship
from hub.sharing import Sharing
from hub.sharing.reconcile import Reconciliation, Sides


@dataclass(frozen=True, slots=True)
class Console:
    accounts: Accounts
    steward: Stewardship
    auditor: Auditor
    audit: AuditLog
    reviews: ReviewDesk
    operations: Operations
    reconciliation: Reconciliation
    """The steward's reconciliation of the two sides (``hub.sharing.reconcile``)."""
    provider: ProviderSignIn | None = None
    """Sign-in through the operators' OpenID Connect provider, when one is configured."""

    @classmethod
    def over(
        cls,
        sharing: Sharing,
        home: Path,
        settings: ConsoleSettings | None = None,
        thresholds: AlertThresholds | None = None,
    ) -> Console:
        """The console of the hub whose sharing service is ``sharing`` (its store, audit
        log and policies)."""
        store, audit, policies = sharing.store, sharing.audit, sharing.policies
        settings = settings or ConsoleSettings()
        return cls(
            Accounts(store, audit),
            Stewardship(store, audit, home),
            Auditor(store, audit, policies, home, thresholds),
            audit,
            ReviewDesk(sharing, settings.reviewer),
            Operations(store, audit, policies, home),
            Reconciliation(sharing, lambda: Sides.of_hub(home, store, policies)),
        )

    def with_provider(
        self, settings: OperatorIdP | None, *, http: httpx.Client | None = None
    ) -> Console:
        """This console, signing operators in through ``settings``' provider too (if any)."""
        if settings is None:
            return self
        return replace(self, provider=ProviderSignIn(settings, self.accounts, http=http))

    def authorize(
        self,
        session: Session,
        area: Area,
        *,
        method: str,
        path: str,
        csrf: str | None = None,
        request_id: str | None = None,
    ) -> Session:
        """``session`` if its roles reach ``area`` and, for anything but a read, the form
        carried its CSRF token; else ``Forbidden`` or ``CsrfRefused``, audited as
        ``console.refused`` (the path and the reason, never a form value)."""
        unsafe = method not in ("GET", "HEAD")
        if unsafe and not session.csrf_matches(csrf):
            self._refused(session, "csrf", method, path, request_id)
            raise CsrfRefused(session.operator.name, path)
        if not reaches(session.operator.roles, area):
            self._refused(session, "role", method, path, request_id, area=area.value)
            raise Forbidden(session.operator.name, area.value)
        return session

    def _refused(
        self,
        session: Session,
        reason: str,
        method: str,
        path: str,
        request_id: str | None,
        **detail: str,
    ) -> None:
        self.audit.append(
            AuditEvent(
                action="console.refused",
                outcome="denied",
                subject=session.operator.subject,
                request_id=request_id,
                detail={
                    "reason": reason,
                    "method": method,
                    "path": path,
                    "roles": [r.value for r in session.operator.roles],
                    **detail,
                },
            )
        )
