"""The auditor's question in reverse: who may see this field, how, and under which policy?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import Sensitivity, contract
from policies.model import MATCH_WORDS, Policy, Treatment


@dataclass(frozen=True, slots=True)
class FieldGrant:
    policy_id: str
    policy_version: int
    kind: str
    field: str
    treatment: Treatment
    actions: tuple[str, ...]
    purposes: tuple[str, ...]
    rows: str
    """The row scope in words: ``all rows`` or ``grid_code in grid_codes``..."""
    access: str = "records"
    """``records``; ``aggregate``: counts by the field only (``GET /v1/stats``), never
    its value; ``both``."""
    break_glass: bool = False
    """Served only under a break-glass session (``Policy.break_glass``), beside what the
    policy's own grant serves (listed apart)."""


def explain(policies: Iterable[Policy], target: str) -> list[FieldGrant]:
    """Every policy that serves ``kind.field`` in any form, with how and for what.

    A policy that names the field ``deny``, or does not name it, serves nothing and is
    left out: default deny means absence is the answer. An aggregates-only grant
    (``access: aggregate``) is listed with its access: it serves counts by the field,
    never a value of it. A policy whose break-glass grant covers the kind serves the field
    in clear under a session too: that is listed as a grant of its own (``break_glass``),
    after the policy's own.
    """
    kind, _, name = target.partition(".")
    if name not in contract(kind).model_fields:
        raise KeyError(f"{kind} has no field {name!r}")
    spec = next(s for s in contract(kind).specs() if s.name == name)
    found = []
    for policy in policies:
        found += _own(policy, kind, name)
        glass = policy.break_glass
        if glass is not None and kind in glass.kinds:  # noqa: SIM102 (two reasons, two tests)
            if policy.police or spec.sensitivity is not Sensitivity.POLICE_ONLY:
                found.append(
                    FieldGrant(
                        policy.id,
                        policy.version,
                        kind,
                        name,
                        Treatment.ALLOW,
                        ("read",),
                        tuple(policy.purposes),
                        f"every row, under a break-glass session of {glass.minutes} min at most",
                        break_glass=True,
                    )
                )
    return found


def _own(policy: Policy, kind: str, name: str) -> list[FieldGrant]:
    """What the policy's own grant on ``kind`` serves of the field, if anything."""
    grant = policy.grant(kind)
    treatment = grant.fields.get(name, Treatment.DENY) if grant else Treatment.DENY
    if grant is None or treatment is Treatment.DENY:
        return []
    rows = (
        "all rows"
        if grant.rows.all
        else " or ".join(
            f"{j.field} {MATCH_WORDS[j.match]} claim {j.claim}" for j in grant.rows.jurisdiction
        )
    )
    if grant.rows.where:
        rows += ", where " + " and ".join(c.field for c in grant.rows.where)
    purposes = tuple(policy.purposes)
    actions = tuple(grant.actions)
    return [
        FieldGrant(
            policy.id, policy.version, kind, name, treatment, actions, purposes, rows, grant.access
        )
    ]
