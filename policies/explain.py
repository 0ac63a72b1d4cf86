"""The auditor's question in reverse: who may see this field, how, and under which policy?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import contract
from policies.model import Policy, Treatment


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


def explain(policies: Iterable[Policy], target: str) -> list[FieldGrant]:
    """Every policy that serves ``kind.field`` in any form, with how and for what.

    A policy that names the field ``deny``, or does not name it, serves nothing and is
    left out: default deny means absence is the answer. An aggregates-only grant
    (``access: aggregate``) is listed with its access: it serves counts by the field,
    never a value of it.
    """
    kind, _, name = target.partition(".")
    if name not in contract(kind).model_fields:
        raise KeyError(f"{kind} has no field {name!r}")
    found = []
    for policy in policies:
        grant = policy.grant(kind)
        treatment = grant.fields.get(name, Treatment.DENY) if grant else Treatment.DENY
        if grant is None or treatment is Treatment.DENY:
            continue
        rows = (
            "all rows"
            if grant.rows.all
            else " or ".join(
                f"{j.field} {'starts with' if j.match == 'prefix' else 'in'} claim {j.claim}"
                for j in grant.rows.jurisdiction
            )
        )
        if grant.rows.where:
            rows += ", where " + " and ".join(c.field for c in grant.rows.where)
        found.append(
            FieldGrant(
                policy.id,
                policy.version,
                kind,
                name,
                treatment,
                tuple(grant.actions),
                tuple(policy.purposes),
                rows,
                grant.access,
            )
        )
    return found
