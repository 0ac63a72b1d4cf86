"""Scopes: one per record kind and action (``person.read``, ``incident.write``), plus the
hub's own services. A scope lets a client call an endpoint; which rows and fields it then
sees is still decided by its policy, so a kind scope beyond what the policy grants is
refused at registration rather than silently useless."""

from __future__ import annotations

from collections.abc import Iterable

from contracts import CONTRACTS
from policies import Policy

ACTIONS = ("read", "write", "submit", "review")
SUBSCRIPTION_SCOPES = frozenset({"subscriptions.read", "subscriptions.write"})
"""Webhook subscriptions (``/v1/subscriptions``): a partner policy's clients may hold
them, an auditor's may not (its clients search the log; they are sent no records)."""
BREAK_GLASS_SCOPE = "break_glass"
"""Opening and approving break-glass sessions (``/v1/break-glass``): for the clients of a
policy with a ``break_glass`` grant only. Reads under a session need the kind's scope."""
SERVICE_SCOPES = frozenset({"audit.read", BREAK_GLASS_SCOPE}) | SUBSCRIPTION_SCOPES
"""Scopes of the hub's own services that an endpoint checks (``GET /v1/audit``)."""
RECORD_SCOPES = frozenset(f"{kind}.{action}" for kind in CONTRACTS for action in ACTIONS)
SCOPES = RECORD_SCOPES | SERVICE_SCOPES


def policy_scopes(policy: Policy) -> frozenset[str]:
    """The record scopes ``policy`` grants something under; ``work_order.write`` (the
    work-order routes' POSTs) when it grants steps of the loop (``work_orders``)."""
    granted = {
        f"{kind}.{action}" for kind, grant in policy.kinds.items() for action in grant.actions
    }
    if policy.work_orders is not None and (policy.work_orders.issue or policy.work_orders.receive):
        granted.add("work_order.write")
    return frozenset(granted)


def scope_problems(scopes: Iterable[str], policy: Policy | None = None) -> list[str]:
    wanted = list(scopes)
    problems = [f"unknown scope {scope!r}" for scope in wanted if scope not in SCOPES]
    if policy is not None:
        granted = policy_scopes(policy)
        problems += [
            f"scope {scope!r} is not granted by policy {policy.ref}"
            for scope in wanted
            if scope in RECORD_SCOPES and scope not in granted
        ]
        if BREAK_GLASS_SCOPE in wanted and policy.break_glass is None:
            problems.append(f"scope {BREAK_GLASS_SCOPE!r} is not granted by policy {policy.ref}")
        if policy.role != "partner":
            problems += [
                f"scope {scope!r} is for partner policies; {policy.ref} is {policy.role}"
                for scope in wanted
                if scope in SUBSCRIPTION_SCOPES
            ]
    return problems
