"""Who an order is between: its issuing org (the client that dispatched it) and its
receiving org, each an OAuth client; which side of an order a caller is on, and whether
an org may be sent an order at all."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import WorkOrder
from hub.auth.clients import Client, ClientRegistry
from hub.policyfiles import PolicyRegistry
from policies import AccessDenied, Policy, Side, decide_receiving


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiving org as the hub knows it: its client and that client's policy."""

    org: str
    client: Client | None
    policy: Policy | None


def receiver(clients: ClientRegistry, policies: PolicyRegistry, org: str) -> Receiver:
    client = clients.get(org)
    policy = None if client is None else policies.get(client.policy_id)
    return Receiver(org, client, policy)


def side_of(client_id: str, order: WorkOrder) -> Side | None:
    """The caller's side of ``order``, judged on the stored order; None: no party to it."""
    if client_id == order.issuing_org:
        return "issue"
    if client_id == order.receiving_org:
        return "receive"
    return None


def receiving_refusal(receiver: Receiver, order: WorkOrder) -> str | None:
    """Why ``receiver`` may not be sent ``order`` (a reason word), or None if it may: it
    exists, is not revoked, and its policy receives orders in rows (evaluated on the
    claims it was registered with) that hold this one."""
    if receiver.client is None:
        return "unknown_org"
    if receiver.client.revoked:
        return "revoked_org"
    if receiver.policy is None:
        return "no_policy"
    try:
        decide_receiving(receiver.policy, receiver.client.claims, order.model_dump())
    except AccessDenied as exc:
        return f"receiver_{exc.reason}"
    return None
