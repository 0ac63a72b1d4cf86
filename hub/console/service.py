"""The console as one object the pages are given: accounts, the steward's and the
auditor's services, and the one check every page and action passes (``authorize``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.audit import AuditEvent, AuditLog
from hub.console.accounts import Accounts, Session
from hub.console.auditor import Auditor
from hub.console.errors import CsrfRefused, Forbidden
from hub.console.roles import Area, reaches
from hub.console.steward import Stewardship
from hub.policyfiles import PolicyRegistry
from hub.sharing import Sharing
from hub.sharing.reconcile import Reconciliation, Sides
from hub.store import Store


@dataclass(frozen=True, slots=True)
class Console:
    accounts: Accounts
    steward: Stewardship
    auditor: Auditor
    audit: AuditLog
    reconciliation: Reconciliation
    """The steward's reconciliation of the two sides (``hub.sharing.reconcile``)."""

    @classmethod
    def over(cls, store: Store, audit: AuditLog, policies: PolicyRegistry, home: Path) -> Console:
        return cls(
            Accounts(store, audit),
            Stewardship(store, audit, home),
            Auditor(store, audit, policies, home),
            audit,
            Reconciliation(
                Sharing(store, audit, policies), lambda: Sides.of_hub(home, store, policies)
            ),
        )

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
