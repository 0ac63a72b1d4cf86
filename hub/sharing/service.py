"""The sharing flow behind every data door: decide, scoped query, field treatments, audit.

Transport-free: it raises the domain errors of ``hub.sharing.errors``, each carrying the
audit event of its refusal, and the API translates them. Every check runs on what will be
returned or stored, never on what the caller sent: a query reads only the columns the
decision grants (a grid request never decrypts a police-only value), and a push is mapped
and parsed before its scope and field rights are judged (``hub.sharing.push``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from contracts import RELATIONS, VERIFIED_KINDS
from hub.audit import AuditEvent, AuditLog
from hub.policyfiles import PolicyRegistry
from hub.sharing.break_glass import BreakGlass
from hub.sharing.cases import CaseRefused, open_case
from hub.sharing.errors import CaseDenied, Denied, InvalidRequest, NotFound
from hub.sharing.ids import RecordIds
from hub.sharing.merged import merged_view
from hub.store import Store
from hub.store.query import Filter, FoundRow, QueryError, select_rows
from hub.store.store import kind_table
from hub.store.visits import last_visits
from policies import (
    AccessDenied,
    Decision,
    Policy,
    PseudonymKey,
    RowScope,
    compiled,
    decide_break_glass,
)

AUDIT_TREATMENT = {"allow": "clear", "mask": "masked", "hash": "hashed"}
EVERY_ROW = RowScope(True, (), ())
VERIFICATION_FIELDS = ("side", "visited_at", "result", "visitor", "visitor_org")
"""What a view tells of its record's last verification (走访核查), each field as the
caller's visit grant treats it: a field that grant withholds is left out."""


class Access(Protocol):
    """Who is asking: what a verified access token says."""

    @property
    def client_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def scopes(self) -> frozenset[str]: ...
    @property
    def jurisdiction(self) -> Mapping[str, Sequence[str]]: ...


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class Asked:
    """One request as the audit log describes it."""

    access: Access
    kind: str
    purpose: str | None
    request_id: str
    case: str | None = None
    """The case cited (``case=``), when the purpose is bound to one (``hub.sharing.cases``)."""
    break_glass: str | None = None
    """The break-glass session the request reads under (``hub.sharing.break_glass``)."""


@dataclass(frozen=True)
class LastVerifications:
    """The last verification of each record of one page, as the caller may see it: looked
    up for the whole page in one query, by ``link_key``, within the caller's visit rows."""

    decision: Decision
    """The caller's read decision on visits, narrowed to ``VERIFICATION_FIELDS``."""
    last: dict[str, FoundRow]
    """The latest visit of each record that has one, by the record's ``link_key``."""

    def audited(self) -> dict[str, Any]:
        fields: dict[str, list[str]] = {}
        for name, treatment in self.decision.treatments.items():
            fields.setdefault(AUDIT_TREATMENT.get(treatment, treatment), []).append(name)
        return {"shown": len(self.last), "fields": fields}


class Sharing:
    def __init__(
        self, store: Store, audit: AuditLog, policies: PolicyRegistry, max_page: int = 500
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.ids = RecordIds(store)
        self.break_glass = BreakGlass(store, audit, policies)
        self.max_page = max_page
        self._pseudonym_key = lru_cache(maxsize=1024)(self._new_pseudonym_key)

    def _new_pseudonym_key(self, client_id: str) -> PseudonymKey:
        return self.store.pseudonym_key(client_id)

    # --- the decision -------------------------------------------------------------------

    def decide(
        self,
        asked: Asked,
        action: str,
        *,
        fields: Sequence[str] | None = None,
        filters: Sequence[Filter] = (),
        audited_as: str | None = None,
    ) -> Decision:
        """The policy's decision, bound to the case the request cites if its purpose
        requires one, or ``Denied`` carrying its audit event (``audited_as``, by default
        ``records.<action>``)."""
        policy = self.policies.get(asked.access.policy_id)
        try:
            return self._decision(asked, policy, action, fields, [f.field for f in filters])
        except CaseRefused as exc:
            event = self.event(
                asked,
                audited_as or f"records.{action}",
                "denied",
                filters=filters,
                policy=policy,
                detail={
                    "reason": exc.reason,
                    "message": str(exc),
                    "case": exc.case.audited(),
                    "case_check": exc.check,
                },
            )
            raise CaseDenied(exc.reason, str(exc), event, exc.case) from None
        except AccessDenied as exc:
            event = self.event(
                asked,
                audited_as or f"records.{action}",
                "denied",
                filters=filters,
                policy=policy,
                detail={"reason": exc.reason, "message": str(exc), "fields": list(exc.fields)},
            )
            raise Denied(exc.reason, str(exc), event, fields=list(exc.fields)) from None

    def _decision(
        self,
        asked: Asked,
        policy: Policy | None,
        action: str,
        fields: Sequence[str] | None = None,
        filter_fields: Sequence[str] = (),
    ) -> Decision:
        """``decide`` without the audit: AccessDenied (``CaseRefused`` for a case) if not."""
        if policy is None:
            raise AccessDenied("policy", f"no policy {asked.access.policy_id!r} is loaded")
        claims = asked.access.jurisdiction
        if asked.break_glass is not None:
            self.break_glass.active(asked.access.client_id, asked.break_glass, asked.kind, action)
            decision = decide_break_glass(
                policy, claims, asked.kind, asked.purpose, fields, filter_fields, asked.case
            )
        else:
            decision = compiled(policy).decide(
                claims, asked.kind, asked.purpose, action, fields, filter_fields, asked.case
            )
        if decision.case is None:
            return decision
        case = open_case(self.store, policy, claims, decision.case)
        return decision.bind(case.links_of(asked.kind))

    def _linked(self, decision: Decision, rows: Sequence[FoundRow]) -> list[FoundRow]:
        """The rows linked to the decision's case (all of them when none is cited): read
        on what the query returned, whatever the query was."""
        if decision.case is None:
            return list(rows)
        return [row for row in rows if decision.linked({**row.values, "link_key": row.link_key})]

    # --- reads --------------------------------------------------------------------------

    def query(
        self,
        asked: Asked,
        *,
        fields: Sequence[str] | None,
        filters: Sequence[Filter],
        cursor: str | None,
        limit: int,
        include_inactive: bool = False,
    ) -> Page:
        """A page of records in the caller's scope; inactive ones (deleted at their source)
        only with ``include_inactive``, under the same policy, and each says so."""
        if not 1 <= limit <= self.max_page:
            raise InvalidRequest(
                "page_size",
                f"limit must be 1 to {self.max_page}",
                self.event(asked, "records.query", "denied", detail={"reason": "page_size"}),
            )
        after = self._cursor(asked, cursor) if cursor else None
        decision = self.decide(asked, "read", fields=fields, filters=filters)
        try:
            fetched = select_rows(
                self.store,
                asked.kind,
                decision.scope,
                _reading(decision),
                filters,
                after_id=after,
                limit=limit,
                include_inactive=include_inactive,
            )
        except QueryError as exc:
            raise self.bad_filter(asked, "records.query", exc, filters, decision) from None
        found = self._linked(decision, fetched)
        shown = self.last_verifications(asked, found)
        self.audit.append(
            self.event(
                asked,
                "records.query",
                "allowed",
                filters=filters,
                decision=decision,
                found=found,
                shown=shown,
                detail={"include_inactive": True} if include_inactive else None,
            )
        )
        more = len(fetched) == limit
        next_cursor = (
            self.ids.encode(asked.access.client_id, asked.kind, fetched[-1].id, "cursor")
            if more
            else None
        )
        return Page([self.view(asked, decision, row, shown) for row in found], next_cursor)

    def read(
        self,
        asked: Asked,
        ref: str,
        *,
        fields: Sequence[str] | None,
        include_inactive: bool = False,
    ) -> dict[str, Any]:
        decision = self.decide(asked, "read", fields=fields)
        row = self._one(asked, decision, ref, _reading(decision), "records.read", include_inactive)
        case = decision.case
        if case is not None and not self._linked(decision, [row]):
            message = f"{asked.kind} {ref} is not linked to {case.kind} {case.key}"
            event = self.event(
                asked,
                "records.read",
                "denied",
                decision=decision,
                detail={"reason": "case_unlinked", "record_id": ref, "message": message},
            )
            raise CaseDenied("case_unlinked", message, event, case)
        shown = self.last_verifications(asked, [row])
        self.audit.append(
            self.event(
                asked,
                "records.read",
                "allowed",
                decision=decision,
                found=[row],
                shown=shown,
                detail={"include_inactive": True} if include_inactive else None,
            )
        )
        return self.view(asked, decision, row, shown)

    def profile(self, asked: Asked, ref: str) -> dict[str, Any]:
        """一人一档 / 一屋一档: the record, every source's record of the same person or house
        (``linked``) and one view merged from them (``merged``, ``hub.sharing.merged``;
        None when ``linked`` is withheld), and the related records of other kinds
        (``contracts.RELATIONS``),
        each section under the caller's policy; a section the token's scopes or the policy
        do not grant is reported as withheld, not as empty."""
        root = self.read(asked, ref, fields=None)
        record_id = self.ids.decode(asked.access.client_id, asked.kind, ref)
        relations = RELATIONS[asked.kind]
        [own] = select_rows(
            self.store,
            asked.kind,
            EVERY_ROW,
            sorted({r.via for r in relations}),
            record_id=record_id,
            limit=1,
        )
        sections = {"linked": self._section(asked, asked.kind, [], own.link_key)}
        merged = sections["linked"].pop("merged", None)
        for relation in relations:
            value = own.values.get(relation.via)
            filters = [Filter(relation.field, "eq", value)] if value is not None else None
            sections[relation.section] = self._section(asked, relation.kind, filters, None)
        return {"record": root, "merged": merged, "sections": sections}

    def _section(
        self,
        parent: Asked,
        kind: str,
        filters: list[Filter] | None,
        link_key: str | None,
    ) -> dict[str, Any]:
        if f"{kind}.read" not in parent.access.scopes:
            return {"kind": kind, "withheld": "scope"}
        asked = dataclasses.replace(parent, kind=kind)
        try:
            decision = self._decision(asked, self.policies.get(asked.access.policy_id), "read")
        except AccessDenied as exc:
            return {"kind": kind, "withheld": exc.reason}
        if filters is None:
            return {"kind": kind, "items": []}
        fetched = select_rows(
            self.store,
            kind,
            decision.scope,
            _reading(decision),
            filters,
            link_key=link_key,
            limit=self.max_page,
        )
        found = self._linked(decision, fetched)
        shown = self.last_verifications(asked, found)
        self.audit.append(
            self.event(
                asked, "profile.section", "allowed", decision=decision, found=found, shown=shown
            )
        )
        items = [self.view(asked, decision, row, shown) for row in found]
        if link_key is None:
            return {"kind": kind, "items": items}
        return {"kind": kind, "items": items, "merged": merged_view(found, items)}

    def _one(
        self,
        asked: Asked,
        decision: Decision,
        ref: str,
        fields: list[str],
        action: str,
        include_inactive: bool = False,
    ) -> FoundRow:
        record_id = self.ids.decode(asked.access.client_id, asked.kind, ref)
        found = (
            select_rows(
                self.store,
                asked.kind,
                decision.policy_scope,
                fields,
                record_id=record_id,
                limit=1,
                include_inactive=include_inactive,
            )
            if record_id is not None
            else []
        )
        if not found:
            event = self.event(
                asked,
                action,
                "denied",
                decision=decision,
                detail={"reason": "not_found", "record_id": ref},
            )
            raise NotFound(f"no {asked.kind} {ref}", event)
        return found[0]

    def _cursor(self, asked: Asked, cursor: str) -> int:
        after = self.ids.decode(asked.access.client_id, asked.kind, cursor, "cursor")
        if after is None:
            event = self.event(asked, "records.query", "denied", detail={"reason": "bad_cursor"})
            raise InvalidRequest("bad_cursor", "the cursor is not one this hub gave out", event)
        return after

    def last_verifications(
        self, asked: Asked, rows: Sequence[FoundRow]
    ) -> LastVerifications | None:
        """The last verification of each of ``rows`` (records of ``asked.kind``) that the
        caller may see; None when the kind is not verified door to door, or when the
        token's scopes (``visit.read``) or the policy do not let the caller read visits."""
        if asked.kind not in VERIFIED_KINDS or "visit.read" not in asked.access.scopes:
            return None
        policy = self.policies.get(asked.access.policy_id)
        if policy is None:
            return None
        claims = asked.access.jurisdiction
        try:
            decision = compiled(policy).decide(claims, "visit", asked.purpose, "read")
        except AccessDenied:
            return None
        granted = decision.treatments
        treatments = {name: granted[name] for name in VERIFICATION_FIELDS if name in granted}
        links = [row.link_key for row in rows]
        last = last_visits(self.store, asked.kind, links, decision.scope, list(treatments))
        return LastVerifications(dataclasses.replace(decision, treatments=treatments), last)

    # --- what goes out ------------------------------------------------------------------

    def view(
        self,
        asked: Asked,
        decision: Decision,
        row: FoundRow,
        shown: LastVerifications | None = None,
    ) -> dict[str, Any]:
        """One record as the partner sees it: its own id for it, the source (a partner's
        pushes as ``partner``), the hour it last changed, and the treated fields; with
        ``shown``, also its last verification (``verification``, None if it has none the
        caller may see; absent when the caller may not read visits)."""
        client = asked.access.client_id
        key = self._pseudonym_key(client)
        source = "partner" if row.source_system.startswith("partner:") else row.source_system
        view = {
            "id": self.ids.encode(client, decision.kind, row.id),
            "source": source,
            "updated": row.last_updated.replace(minute=0, second=0, microsecond=0),
            "record": decision.apply(row.values, key),
        }
        if row.inactive_since is not None:
            since = row.inactive_since.replace(minute=0, second=0, microsecond=0)
            view["inactive"] = {"since": since, "reason": row.inactive_reason}
        if shown is not None:
            visit = shown.last.get(row.link_key)
            view["verification"] = (
                None
                if visit is None
                else {
                    "id": self.ids.encode(client, "visit", visit.id),
                    **shown.decision.apply(visit.values, key),
                }
            )
        return view

    def bad_filter(
        self,
        asked: Asked,
        action: str,
        exc: QueryError,
        filters: Sequence[Filter],
        decision: Decision,
    ) -> InvalidRequest:
        """The refusal of a request whose filter the store could not apply, carrying its
        ``denied`` audit event (the field named, never the value)."""
        event = self.event(
            asked,
            action,
            "denied",
            filters=filters,
            decision=decision,
            detail={"reason": "bad_filter", "field": exc.field},
        )
        return InvalidRequest("bad_filter", str(exc), event, field=exc.field)

    def event(
        self,
        asked: Asked,
        action: str,
        outcome: str,
        *,
        filters: Sequence[Filter] = (),
        decision: Decision | None = None,
        policy: Policy | None = None,
        found: Sequence[FoundRow] = (),
        record_ids: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
        shown: LastVerifications | None = None,
    ) -> AuditEvent:
        """The audit event of one step of a request. Filter values on sealed fields are
        kept as their blind index (``bidx:…``), never in clear: "who searched for this ID
        number" is answered by indexing the number the same way. The visits whose facts
        went out with the records (``shown``) are named among the records, and the visit
        fields shown, and how, under ``detail.verification``."""
        if shown is not None:
            record_ids = [*record_ids, *(f"visit/{visit.id}" for visit in shown.last.values())]
            detail = {**(detail or {}), "verification": shown.audited()}
        if asked.break_glass is not None:
            detail = {**(detail or {}), "break_glass": {"session": asked.break_glass}}
        if asked.case is not None and "case" not in (detail or {}):
            cited = decision.case if decision is not None else None
            detail = {**(detail or {}), "case": cited.audited() if cited else {"id": asked.case}}
        fields: dict[str, list[str]] = {}
        if decision is not None:
            for treatment, names in decision.fields_by_treatment().items():
                fields.setdefault(AUDIT_TREATMENT.get(treatment, treatment), []).extend(names)
        return AuditEvent(
            action=action,
            outcome=outcome,
            client_id=asked.access.client_id,
            subject=asked.access.subject,
            purpose=asked.purpose,
            kind=asked.kind,
            filters=self.audited_filters(asked.kind, filters),
            record_ids=[*(f"{asked.kind}/{r.id}" for r in found), *record_ids],
            fields=fields,
            policy_id=(decision.policy_id if decision else policy.id if policy else None),
            policy_version=(
                decision.policy_version if decision else policy.version if policy else None
            ),
            request_id=asked.request_id,
            detail=detail or {},
        )

    def audited_filters(self, kind: str, filters: Sequence[Filter]) -> dict[str, Any]:
        kt = kind_table(kind)
        audited: dict[str, Any] = {}
        for item in filters:
            try:
                sealed = kt.column(item.field).encrypted
            except KeyError:
                sealed = False
            value = item.value
            if sealed:
                values = value if isinstance(value, list) else [value]
                hidden = [f"bidx:{self.store.blind_index(str(v))}" for v in values]
                value = hidden if isinstance(item.value, list) else hidden[0]
            audited[f"{item.field}__{item.op}"] = value
        return audited


def _reading(decision: Decision) -> list[str]:
    """The fields a read fetches: those served, and those its case's links are read on."""
    served = list(decision.treatments)
    return [*served, *(name for name in decision.link_fields() if name not in served)]
