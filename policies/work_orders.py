"""Who takes which step of a work order: the ``work_orders`` grant of a policy.

A partner is on one side of an order: its issuer (``issue``) or its receiver
(``receive``). The hub finds the side on the stored order, then asks here whether the
policy grants the step to that side and whether the order lies in the grant's ``rows``.
From which status a step may be taken is the contract's (``contracts.STEPS``), not this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from policies.errors import AccessDenied
from policies.evaluate import Claims, admits, require_purpose, row_scope
from policies.model import Policy, WorkOrderGrant

Side = Literal["issue", "receive"]
_SIDE_NAME = {"issue": "issuer", "receive": "receiver"}


def decide_step(
    policy: Policy,
    claims: Claims,
    purpose: str | None,
    side: Side,
    step: str,
    order: Mapping[str, Any],
) -> None:
    """Raise AccessDenied unless ``policy`` lets the ``side`` of ``order`` take ``step``
    for ``purpose``."""
    require_purpose(policy, purpose)
    grant = _grant(policy)
    if step not in (grant.issue if side == "issue" else grant.receive):
        raise AccessDenied(
            "step",
            f"{policy.ref} does not grant {step} to the {_SIDE_NAME[side]} of an order",
            kind="work_order",
        )
    _within(policy, grant, claims, order)


def decide_receiving(policy: Policy, claims: Claims, order: Mapping[str, Any]) -> None:
    """Raise AccessDenied unless a partner under ``policy`` (holding ``claims``) may be sent
    ``order``: it takes some step as a receiver, and the order is in its rows."""
    grant = _grant(policy)
    if not grant.receive:
        raise AccessDenied("receive", f"{policy.ref} receives no work orders", kind="work_order")
    _within(policy, grant, claims, order)


def _grant(policy: Policy) -> WorkOrderGrant:
    if policy.work_orders is None:
        raise AccessDenied(
            "work_orders", f"{policy.ref} takes no part in work orders", kind="work_order"
        )
    return policy.work_orders


def _within(
    policy: Policy, grant: WorkOrderGrant, claims: Claims, order: Mapping[str, Any]
) -> None:
    if not admits(row_scope(grant.rows, claims), order):
        raise AccessDenied(
            "scope",
            f"the order is outside the work-order rows of {policy.ref}",
            kind="work_order",
        )
