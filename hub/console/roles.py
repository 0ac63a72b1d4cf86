"""The operators' roles and which areas of the pages each reaches (三员分立, 等保 2.0).

``system_admin`` runs the hub (sources, clients, keys, syncs), ``security_admin`` owns
the policies, ``audit_admin`` reads the audit log and nothing else that holds personal
data, ``steward`` looks after the data (runs, reports, quarantine, reviews), ``viewer``
sees the overview only. The auditor audits the others, so ``audit_admin`` is never held
with a role that changes anything (either admin role, or steward): a person who could fix
a row and then read the log of that fix has no one watching.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hub.console.errors import RolesConflict, UnknownRole


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"
    STEWARD = "steward"
    VIEWER = "viewer"


ROLES = tuple(role.value for role in Role)
LABELS = {
    Role.SYSTEM_ADMIN: "系统管理员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.AUDIT_ADMIN: "安全审计员",
    Role.STEWARD: "数据管理员",
    Role.VIEWER: "查看者",
}
NOT_WITH_AUDIT = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.STEWARD})


class Area(StrEnum):
    """What a page or action belongs to; each route names one."""

    HOME = "home"
    STEWARD = "steward"
    """Runs, reports, quarantine (rows in clear), fix and resubmit."""
    AUDIT = "audit"
    """Audit search, subject access, log integrity, policy history."""
    SHARING = "sharing"
    """The sharing matrix: who sees which field how (no personal data)."""
    OPERATIONS = "operations"
    """Sources and their syncs, clients and their tokens, overdue work orders (运维)."""


REACHES: dict[Role, frozenset[Area]] = {
    Role.SYSTEM_ADMIN: frozenset({Area.HOME, Area.OPERATIONS}),
    Role.SECURITY_ADMIN: frozenset({Area.HOME, Area.SHARING}),
    Role.AUDIT_ADMIN: frozenset({Area.HOME, Area.AUDIT, Area.SHARING}),
    Role.STEWARD: frozenset({Area.HOME, Area.STEWARD}),
    Role.VIEWER: frozenset({Area.HOME}),
}


def checked_roles(name: str, roles: Iterable[str]) -> tuple[Role, ...]:
    """``roles`` as Roles, refused (``UnknownRole``, ``RolesConflict``) unless they are known
    and keep the audit role apart from every role that changes something."""
    given = sorted(set(roles))
    if not given:
        raise UnknownRole(name, f"give at least one role of {', '.join(ROLES)}")
    unknown = [r for r in given if r not in ROLES]
    if unknown:
        raise UnknownRole(name, f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
    held = tuple(Role(r) for r in given)
    clash = sorted(NOT_WITH_AUDIT.intersection(held))
    if Role.AUDIT_ADMIN in held and clash:
        raise RolesConflict(name, f"audit_admin is never held with {', '.join(clash)}")
    return held


def reaches(roles: Iterable[Role], area: Area) -> bool:
    """Default deny: an area no role of the operator names is closed to them."""
    return any(area in REACHES[role] for role in roles)
