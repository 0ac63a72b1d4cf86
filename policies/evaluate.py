"""Deciding one request under one policy: purpose, kind, action, rows, fields.

The decision carries the row scope as data (``RowScope``), not as a filter function: the
hub compiles it into the database query, so rows outside a partner's scope are never
fetched. Field treatments are applied to what comes back (``Decision.apply``).

A purpose bound to a case (``Policy.cases``) needs the request to cite one: the decision
then carries the citation (``Decision.case``), and the hub, which alone can look the case
up, binds it (``Decision.bind``): the row scope narrowed to the records linked to the case,
and each record returned checked against the same links (``Decision.linked``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from contracts import Sensitivity, contract
from policies.errors import AccessDenied
from policies.model import KindGrant, Policy, Rows, Treatment
from policies.transform import PseudonymKey, Treat, treater

Claims = Mapping[str, Sequence[str]]
"""The caller's jurisdiction claims from its token: ``{"grid_codes": ["G3201040101"], ...}``."""


@dataclass(frozen=True, slots=True)
class Match:
    """``field`` among ``values`` (``in``), starting with one (``prefix``), or a grid code
    of the communities or streets ``values`` names (``area``), which only the hub's grid
    registry can answer: the hub compiles it into a sub-query of the registry and, to read
    a record in Python, expands it to the grid codes first (``hub.grids.expand_scope``)."""

    field: str
    op: Literal["in", "prefix", "area"]
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowScope:
    """Rows where ANY of ``any_of`` holds (unless ``unrestricted``) and ALL of ``all_of``.

    With no ``any_of`` and not unrestricted, the scope is empty: a caller without the
    claims a jurisdiction names sees no row.
    """

    unrestricted: bool
    any_of: tuple[Match, ...]
    all_of: tuple[Match, ...]

    @property
    def empty(self) -> bool:
        return not self.unrestricted and not self.any_of


@dataclass(frozen=True, slots=True)
class Citation:
    """The case a request cites: an incident or a work order, by its natural key.

    ``links`` is empty until the hub binds the case: then the matches (all of them) that a
    record of the decision's kind must hold to be linked to the case."""

    kind: str
    key: str
    links: tuple[Match, ...] = ()

    def audited(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.key}


def holds(match: Match, record: Mapping[str, Any]) -> bool:
    """Whether ``record``'s value of ``match.field`` satisfies ``match``: the Python
    reading of what ``hub.store.query`` compiles into SQL. An ``area`` match holds for
    nothing here (fail closed): the hub expands it to grid codes before reading a record."""
    value = record.get(match.field)
    if match.op == "area":
        return False
    if match.op == "prefix":
        return isinstance(value, str) and any(value.startswith(str(p)) for p in match.values)
    return value in match.values


@dataclass(frozen=True)
class Decision:
    policy_id: str
    policy_version: int
    policy_digest: str
    kind: str
    action: str
    purpose: str
    scope: RowScope
    treatments: dict[str, Treatment]
    """The fields served and how; every other field of the kind is withheld."""
    withheld: tuple[str, ...] = field(default=())
    writable: frozenset[str] = field(default=frozenset())
    """For a write or a submit: the fields the partner may write (``KindGrant.write``) or
    submit for review (``KindGrant.submit``); a record naming any other is refused whole."""
    case: Citation | None = None
    """The case the request cites, when its purpose requires one."""

    def bind(self, links: tuple[Match, ...]) -> Decision:
        """This decision bound to its cited case: only rows holding every one of ``links``
        (and in scope) are read."""
        if self.case is None:
            raise ValueError("a decision binds a case only when its request cites one")
        scope = RowScope(self.scope.unrestricted, self.scope.any_of, (*self.scope.all_of, *links))
        case = Citation(self.case.kind, self.case.key, links)
        return dataclasses.replace(self, scope=scope, case=case)

    @property
    def policy_scope(self) -> RowScope:
        """The rows the policy grants, before the cited case narrowed them (``bind``)."""
        bound = len(self.case.links) if self.case is not None else 0
        if not bound:
            return self.scope
        all_of = self.scope.all_of[:-bound]
        return RowScope(self.scope.unrestricted, self.scope.any_of, all_of)

    def linked(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` (its values and ``link_key``) is linked to the cited case;
        True when no case is cited."""
        if self.case is None:
            return True
        return bool(self.case.links) and all(holds(m, record) for m in self.case.links)

    def link_fields(self) -> list[str]:
        """The record fields ``linked`` reads (``link_key`` aside)."""
        links = self.case.links if self.case is not None else ()
        return list(dict.fromkeys(m.field for m in links if m.field != "link_key"))

    min_cell: int | None = None
    """For counts (action ``stats``): counts below it are suppressed."""

    def apply(self, record: Mapping[str, Any], key: bytes | PseudonymKey) -> dict[str, Any]:
        """The partner's view of one record; ``key`` is the partner's pseudonym key."""
        view = dict.fromkeys(self._served)
        for name in self._served:
            view[name] = record.get(name)
        for name, treated in self._treated:
            value = view[name]
            if value is not None:
                view[name] = treated(value, key)
        return view

    @cached_property
    def _served(self) -> tuple[str, ...]:
        return tuple(self.treatments)

    @cached_property
    def _treated(self) -> tuple[tuple[str, Treat], ...]:
        """The fields not served as they are, and how: worked out once per decision."""
        return tuple(
            (n, treater(t)) for n, t in self.treatments.items() if t is not Treatment.ALLOW
        )

    def fields_by_treatment(self) -> dict[str, list[str]]:
        """For the audit log: which fields went out in clear, masked, hashed..., withheld."""
        grouped: dict[str, list[str]] = {"withheld": list(self.withheld)}
        for name, treatment in self.treatments.items():
            grouped.setdefault(treatment.value, []).append(name)
        return grouped


def decide(
    policy: Policy,
    claims: Claims,
    kind: str,
    purpose: str | None,
    action: str = "read",
    fields: Iterable[str] | None = None,
    filter_fields: Iterable[str] = (),
    case: str | None = None,
) -> Decision:
    """Decide a request or raise AccessDenied naming why. Default deny throughout.

    Action ``stats`` is counts of the kind (``fields``: the fields grouped by, each granted
    in clear); it needs ``read`` and an ``access`` that opens counts, and an aggregates-only
    grant refuses every other action (``aggregate_only``)."""
    purpose = require_purpose(policy, purpose, case)
    grant = granted(policy, kind, action)
    all_fields = [spec.name for spec in contract(kind).specs()]
    visible = {
        name: grant.fields[name]
        for name in all_fields
        if grant.fields.get(name, Treatment.DENY) is not Treatment.DENY
        and (action != STATS or grant.fields[name] is Treatment.ALLOW)
    }
    if fields is not None:
        wanted = list(dict.fromkeys(fields))
        refused = tuple(name for name in wanted if name not in visible)
        if refused:
            raise AccessDenied(
                "fields", f"fields not granted: {', '.join(refused)}", kind=kind, fields=refused
            )
        visible = {name: visible[name] for name in wanted}
    filter_fields = tuple(filter_fields)
    unfiltered(grant, kind, action, filter_fields)
    hidden_filters = tuple(
        name for name in filter_fields if grant.fields.get(name) is not Treatment.ALLOW
    )
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
        policy_digest=policy.digest,
        kind=kind,
        action=action,
        purpose=purpose,
        scope=_scope(policy, kind, claims),
        treatments=visible,
        withheld=tuple(name for name in all_fields if name not in visible),
        writable=frozenset(_writable(grant, action)),
        case=citation(policy, purpose, case),
        min_cell=grant.min_cell if action == STATS else None,
    )


def decide_break_glass(
    policy: Policy,
    claims: Claims,
    kind: str,
    purpose: str | None,
    fields: Iterable[str] | None = None,
    filter_fields: Iterable[str] = (),
    case: str | None = None,
) -> Decision:
    """A read under a break-glass session (``Policy.break_glass``): every row the store
    holds, every field in clear but police-only ones outside a police policy; the purpose
    (and its case) still required as always. AccessDenied if the policy grants no
    break-glass read of ``kind``."""
    glass = policy.break_glass
    if glass is None or kind not in glass.kinds:
        raise AccessDenied(
            "break_glass", f"{policy.ref} grants no break-glass read of {kind}", kind=kind
        )
    wide = KindGrant(
        rows=Rows(all=True),
        fields={
            spec.name: Treatment.ALLOW
            for spec in contract(kind).specs()
            if policy.police or spec.sensitivity is not Sensitivity.POLICE_ONLY
        },
    )
    widened = policy.model_copy(update={"kinds": {**policy.kinds, kind: wide}})
    decision = decide(widened, claims, kind, purpose, "read", fields, filter_fields, case)
    return dataclasses.replace(decision, policy_digest=policy.digest)


STATS = "stats"


def unfiltered(grant: KindGrant, kind: str, action: str, filter_fields: tuple[str, ...]) -> None:
    """An aggregates-only grant's counts take no filter: each count is then a cell of one
    family of tables (the total, each field's, each pair's), shown or suppressed alike in
    every table, where a filter would slice a table into cells another table suppressed."""
    if action == STATS and filter_fields and not grant.rows_granted:
        raise AccessDenied(
            "filter",
            f"counts of {kind} under an aggregates-only grant take no filter: group by it",
            kind=kind,
            fields=filter_fields,
        )


def granted(policy: Policy, kind: str, action: str) -> KindGrant:
    """``policy``'s grant of ``kind`` if it grants ``action`` on it; AccessDenied if not."""
    grant = policy.grant(kind)
    needed = "read" if action == STATS else action
    if grant is None or needed not in grant.actions:
        raise AccessDenied("kind", f"{policy.ref} does not grant {action} on {kind}", kind=kind)
    if action == STATS and not grant.counts_granted:
        raise AccessDenied(
            "counts", f"{policy.ref} grants records of {kind}, not counts", kind=kind
        )
    if action != STATS and not grant.rows_granted:
        raise AccessDenied(
            "aggregate_only",
            f"{policy.ref} grants counts of {kind} only (GET /v1/stats/{kind}), never a row",
            kind=kind,
        )
    return grant


def _writable(grant: KindGrant, action: str) -> list[str]:
    return grant.write if action == "write" else grant.submit if action == "submit" else []


def require_purpose(policy: Policy, purpose: str | None, case: str | None = None) -> str:
    """``purpose``, if ``policy`` grants it and the request cites a case exactly when the
    purpose requires one; AccessDenied if not (or if no purpose is declared)."""
    if not purpose or purpose not in policy.purposes:
        raise AccessDenied(
            "purpose", f"purpose {purpose!r} is not granted by {policy.ref}", purpose=purpose
        )
    requires = policy.requires_case(purpose)
    if requires and not case:
        raise AccessDenied(
            "case_required",
            f"purpose {purpose} requires citing a case: case={requires.upper()}_ID",
            purpose=purpose,
        )
    if case and not requires:
        raise AccessDenied(
            "case_unbound", f"purpose {purpose} is not bound to a case", purpose=purpose
        )
    return purpose


def citation(policy: Policy, purpose: str, case: str | None) -> Citation | None:
    """The case a request under ``purpose`` cites (``require_purpose`` checked it)."""
    requires = policy.requires_case(purpose)
    return Citation(requires, case) if requires and case else None


def _scope(policy: Policy, kind: str, claims: Claims) -> RowScope:
    return row_scope(policy.kinds[kind].rows, claims)


def row_scope(rows: Rows, claims: Claims) -> RowScope:
    """The rows ``rows`` admits for a caller holding ``claims``."""
    any_of = tuple(
        Match(j.field, "in" if j.match == "equals" else j.match, tuple(claims[j.claim]))
        for j in rows.jurisdiction
        if claims.get(j.claim)
    )
    all_of = tuple(
        Match(c.field, "prefix", (c.prefix,))
        if c.prefix is not None
        else Match(c.field, "area", tuple(c.area))
        if c.area is not None
        else Match(c.field, "in", tuple(c.in_) if c.in_ is not None else (c.equals,))
        for c in rows.where
    )
    return RowScope(rows.all, any_of, all_of)


def admits(scope: RowScope, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` lies in ``scope``: the check for records pushed in, which are not
    read back through a query."""

    if scope.empty:
        return False
    reach = scope.unrestricted or any(holds(m, record) for m in scope.any_of)
    return reach and all(holds(m, record) for m in scope.all_of)
