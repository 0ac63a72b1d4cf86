"""A policy compiled once into a decision function: ``evaluate.decide``, with the work that
depends only on the policy done once per loaded version instead of once per request.

What is worked out ahead, per kind granted (on first use): the fields served and how, in
the contract's order, the fields withheld, the fields filterable (granted in clear) and
the fields writable and submittable. What stays per request is what depends on it: the
purpose, the action, the projection asked for, the filters, and the row scope taken from
the caller's claims. The content digest, which the interpreted path hashes afresh on
every call, is computed once.

``CompiledPolicy.decide`` answers exactly as ``evaluate.decide`` does (the same
``Decision``, or ``AccessDenied`` with the same reason, message and fields);
``tests/policies/test_compiled.py`` checks that both agree on every example policy and on
crafted ones. A change to ``evaluate.decide`` must be made here too: that test fails
until it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import contract
from policies.errors import AccessDenied
from policies.evaluate import (
    STATS,
    Claims,
    Decision,
    citation,
    granted,
    require_purpose,
    row_scope,
    unfiltered,
)
from policies.model import KindGrant, Policy, Treatment


@dataclass(frozen=True, slots=True)
class _KindPlan:
    grant: KindGrant
    all_fields: tuple[str, ...]
    visible: dict[str, Treatment]
    withheld: tuple[str, ...]
    counted: dict[str, Treatment]
    """What counts may be grouped by: the fields granted in clear."""
    counted_withheld: tuple[str, ...]
    clear: frozenset[str]
    write: frozenset[str]
    submit: frozenset[str]


def _plan(grant: KindGrant, kind: str) -> _KindPlan:
    all_fields = tuple(spec.name for spec in contract(kind).specs())
    visible = {
        name: grant.fields[name]
        for name in all_fields
        if grant.fields.get(name, Treatment.DENY) is not Treatment.DENY
    }
    counted: dict[str, Treatment] = {n: t for n, t in visible.items() if t is Treatment.ALLOW}
    return _KindPlan(
        grant=grant,
        all_fields=all_fields,
        visible=visible,
        withheld=tuple(name for name in all_fields if name not in visible),
        counted=counted,
        counted_withheld=tuple(name for name in all_fields if name not in counted),
        clear=frozenset(n for n, t in grant.fields.items() if t is Treatment.ALLOW),
        write=frozenset(grant.write),
        submit=frozenset(grant.submit),
    )


class CompiledPolicy:
    """One loaded policy version, ready to decide requests quickly."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.digest = policy.digest
        self._plans: dict[str, _KindPlan] = {}

    def decide(
        self,
        claims: Claims,
        kind: str,
        purpose: str | None,
        action: str = "read",
        fields: Iterable[str] | None = None,
        filter_fields: Iterable[str] = (),
        case: str | None = None,
    ) -> Decision:
        """As ``policies.decide(policy, claims, kind, ...)``."""
        policy = self.policy
        purpose = require_purpose(policy, purpose, case)
        grant = granted(policy, kind, action)
        plan = self._plans.get(kind)
        if plan is None or plan.grant is not grant:
            plan = self._plans[kind] = _plan(grant, kind)
        stats = action == STATS
        visible = plan.counted if stats else plan.visible
        withheld = plan.counted_withheld if stats else plan.withheld
        if fields is not None:
            wanted = list(dict.fromkeys(fields))
            refused = tuple(name for name in wanted if name not in visible)
            if refused:
                raise AccessDenied(
                    "fields",
                    f"fields not granted: {', '.join(refused)}",
                    kind=kind,
                    fields=refused,
                )
            visible = {name: visible[name] for name in wanted}
            withheld = tuple(name for name in plan.all_fields if name not in visible)
        filter_fields = tuple(filter_fields)
        unfiltered(grant, kind, action, filter_fields)
        hidden_filters = tuple(name for name in filter_fields if name not in plan.clear)
        if hidden_filters:
            raise AccessDenied(
                "filter",
                f"filtering on a field not granted in clear: {', '.join(hidden_filters)}",
                kind=kind,
                fields=hidden_filters,
            )
        return Decision(
            policy_id=policy.id,
            policy_version=policy.version,
            policy_digest=self.digest,
            kind=kind,
            action=action,
            purpose=purpose,
            scope=row_scope(grant.rows, claims),
            treatments=dict(visible),
            withheld=withheld,
            writable=(
                plan.write if action == "write" else plan.submit if action == "submit" else _NONE
            ),
            case=citation(policy, purpose, case),
            min_cell=grant.min_cell if stats else None,
        )


_NONE: frozenset[str] = frozenset()
_COMPILED: dict[str, CompiledPolicy] = {}


def compiled(policy: Policy) -> CompiledPolicy:
    """``policy`` compiled, once for each loaded version (a policy reloaded from its file
    is another object, and is compiled again)."""
    known = _COMPILED.get(policy.id)
    if known is None or known.policy is not policy:
        known = _COMPILED[policy.id] = CompiledPolicy(policy)
    return known
