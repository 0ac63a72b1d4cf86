"""The sharing flow behind every data endpoint: policy decision, scoped query, field
treatments, audit entry. Routes stay thin; nothing here knows HTTP beyond `Problem`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.sdk import RecordMapping, Stream
from hub.api.problems import Problem
from hub.audit import AuditEvent, AuditLog
from hub.ingest.sync import admit_rows
from hub.store import Store, StoredRecord
from hub.store.query import Filter, QueryError, get_record, select_records
from policies import AccessDenied, Decision, Policy, RowScope, admits, decide

AUDIT_TREATMENT = {"allow": "clear", "mask": "masked", "hash": "hashed"}


class Access(Protocol):
    """Who is asking: what a verified access token says."""

    @property
    def client_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def jurisdiction(self) -> Mapping[str, Sequence[str]]: ...


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _related(kind: str, record: dict[str, Any]) -> list[tuple[str, str, list[Filter]]]:
    """The profile's other sections: (name, kind, filters locating them)."""
    address = [Filter("address_code", "eq", record["address_code"])]
    if kind == "person":
        sections = [
            ("address", "address", address),
            ("incidents", "incident", address),
            ("visits", "visit", [Filter("record_key", "eq", record["id_number"])]),
        ]
        if record.get("house_code"):
            house = [Filter("house_code", "eq", record["house_code"])]
            sections.append(("house", "house", house))
        return sections
    return [
        ("address", "address", address),
        ("residents", "person", [Filter("house_code", "eq", record["house_code"])]),
        ("incidents", "incident", address),
        ("visits", "visit", [Filter("record_key", "eq", record["house_code"])]),
    ]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (ValueError, KeyError, TypeError):
        raise Problem(400, "the cursor is not one this hub gave out", code="bad_cursor") from None
    if not isinstance(after, int) or after < 0:
        raise Problem(400, "the cursor is not one this hub gave out", code="bad_cursor")
    return after


class Sharing:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policies: dict[str, Policy],
        max_page: int = 500,
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.max_page = max_page

    def pseudonym_key(self, client_id: str) -> bytes:
        """Each partner's own key for hashed fields: two partners cannot join on them."""
        label = b"hub pseudonym v1:" + client_id.encode()
        return hmac.new(self.store.keyring.index_key, label, hashlib.sha256).digest()

    def decide(
        self,
        access: Access,
        kind: str,
        purpose: str | None,
        action: str,
        *,
        fields: Sequence[str] | None = None,
        filters: Sequence[Filter] = (),
        request_id: str,
    ) -> Decision:
        """The policy's decision, or a 403 problem; either way, an audit entry on refusal."""
        policy = self.policies.get(access.policy_id)
        try:
            if policy is None:
                raise AccessDenied("policy", f"no policy {access.policy_id!r} is loaded")
            return decide(
                policy,
                access.jurisdiction,
                kind,
                purpose,
                action,
                fields,
                [f.field for f in filters],
            )
        except AccessDenied as exc:
            self._audit(
                access,
                f"records.{action}",
                "denied",
                kind=kind,
                purpose=purpose,
                filters=filters,
                request_id=request_id,
                policy=policy,
                detail={"reason": exc.reason, "message": str(exc), "fields": list(exc.fields)},
            )
            raise Problem(403, str(exc), code=f"denied_{exc.reason}", audited=True) from None

    def query(
        self,
        access: Access,
        kind: str,
        purpose: str | None,
        *,
        fields: Sequence[str] | None,
        filters: Sequence[Filter],
        cursor: str | None,
        limit: int,
        request_id: str,
    ) -> Page:
        if not 1 <= limit <= self.max_page:
            raise Problem(400, f"limit must be 1 to {self.max_page}", code="page_size")
        after = decode_cursor(cursor) if cursor else None
        decision = self.decide(
            access, kind, purpose, "read", fields=fields, filters=filters, request_id=request_id
        )
        try:
            found = select_records(self.store, kind, decision.scope, filters, after, limit)
        except QueryError as exc:
            raise Problem(400, str(exc), code="bad_filter", field=exc.field) from None
        items = [self._view(decision, access, stored) for stored in found]
        self._audit(
            access,
            "records.query",
            "allowed",
            kind=kind,
            purpose=purpose,
            filters=filters,
            request_id=request_id,
            decision=decision,
            records=found,
        )
        more = len(found) == limit
        return Page(items, encode_cursor(found[-1].id) if more else None)

    def read(
        self,
        access: Access,
        kind: str,
        record_id: int,
        purpose: str | None,
        *,
        fields: Sequence[str] | None,
        request_id: str,
    ) -> dict[str, Any]:
        decision = self.decide(access, kind, purpose, "read", fields=fields, request_id=request_id)
        stored = get_record(self.store, kind, decision.scope, record_id)
        self._audit(
            access,
            "records.read",
            "allowed" if stored else "denied",
            kind=kind,
            purpose=purpose,
            request_id=request_id,
            decision=decision,
            records=[stored] if stored else [],
            detail={} if stored else {"reason": "not_found", "record_id": record_id},
        )
        if stored is None:
            raise Problem(404, f"no {kind} {record_id}", code="not_found", audited=True)
        return self._view(decision, access, stored)

    def push(
        self,
        access: Access,
        kind: str,
        purpose: str | None,
        rows: Sequence[tuple[str, dict[str, Any]]],
        *,
        request_id: str,
    ) -> list[dict[str, Any]]:
        """Records a partner pushes in, through the same contract and quarantine path as a
        sync; each answered ``stored`` or ``quarantined`` with its failures. Rows outside
        the partner's scope refuse the whole request: nobody writes another's jurisdiction.
        """
        decision = self.decide(access, kind, purpose, "write", request_id=request_id)
        outside = [key for key, row in rows if not admits(decision.scope, row)]
        if outside:
            self._audit(
                access,
                "records.write",
                "denied",
                kind=kind,
                purpose=purpose,
                request_id=request_id,
                decision=decision,
                detail={"reason": "out_of_scope", "source_keys": outside},
            )
            raise Problem(
                403, "records outside your scope", code="denied_scope", source_keys=outside
            )
        stream = Stream("push", kind, "source_key", None, RecordMapping(passthrough=True))
        source_id = f"partner:{access.client_id}"
        admitted = admit_rows(
            self.store,
            source_id,
            stream,
            [row | {"source_key": key} for key, row in rows],
            run_id=request_id,
        )
        held = {entry.source_key: entry.failures for entry in admitted.quarantined}
        self._audit(
            access,
            "records.write",
            "allowed",
            kind=kind,
            purpose=purpose,
            request_id=request_id,
            decision=decision,
            detail={"stored": len(rows) - len(held), "quarantined": len(held)},
        )
        return [
            {"source_key": key, "status": "quarantined", "failures": held[key]}
            if key in held
            else {"source_key": key, "status": "stored"}
            for key, _ in rows
        ]

    def profile(
        self,
        access: Access,
        scopes: frozenset[str],
        kind: str,
        record_id: int,
        purpose: str | None,
        *,
        request_id: str,
    ) -> dict[str, Any]:
        """一人一档 / 一屋一档: the record, every source's record of the same person or house,
        and the related records of other kinds, each section under the caller's policy.

        A section the token's scopes or the policy do not grant is reported as withheld.
        """
        root = self.read(access, kind, record_id, purpose, fields=None, request_id=request_id)
        stored = get_record(self.store, kind, RowScope(True, (), ()), record_id)
        if stored is None:
            raise Problem(404, f"no {kind} {record_id}", code="not_found")
        record = stored.record.model_dump()
        key_field = stored.record.natural_key_fields()[0]
        sections: dict[str, Any] = {
            "linked": self._section(
                access,
                scopes,
                kind,
                purpose,
                [Filter(key_field, "eq", record[key_field])],
                request_id,
            )
        }
        for name, section_kind, filters in _related(kind, record):
            sections[name] = self._section(
                access, scopes, section_kind, purpose, filters, request_id
            )
        return {"record": root, "sections": sections}

    def _section(
        self,
        access: Access,
        scopes: frozenset[str],
        kind: str,
        purpose: str | None,
        filters: list[Filter],
        request_id: str,
    ) -> dict[str, Any]:
        if f"{kind}.read" not in scopes:
            return {"kind": kind, "withheld": "scope"}
        policy = self.policies.get(access.policy_id)
        try:
            if policy is None:
                raise AccessDenied("policy", "no policy")
            decision = decide(policy, access.jurisdiction, kind, purpose, "read")
        except AccessDenied as exc:
            return {"kind": kind, "withheld": exc.reason}
        found = select_records(self.store, kind, decision.scope, filters, None, self.max_page)
        self._audit(
            access,
            "profile.section",
            "allowed",
            kind=kind,
            purpose=purpose,
            request_id=request_id,
            decision=decision,
            records=found,
        )
        return {"kind": kind, "items": [self._view(decision, access, s) for s in found]}

    def _view(self, decision: Decision, access: Access, stored: StoredRecord) -> dict[str, Any]:
        record = decision.apply(stored.record.model_dump(), self.pseudonym_key(access.client_id))
        return {
            "id": stored.id,
            "source": stored.provenance.source_system,
            "updated": stored.provenance.last_updated,
            "record": record,
        }

    def _audit(
        self,
        access: Access,
        action: str,
        outcome: str,
        *,
        kind: str,
        purpose: str | None,
        request_id: str,
        filters: Sequence[Filter] = (),
        decision: Decision | None = None,
        policy: Policy | None = None,
        records: Sequence[StoredRecord] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        fields: dict[str, list[str]] = {}
        if decision is not None:
            for treatment, names in decision.fields_by_treatment().items():
                label = AUDIT_TREATMENT.get(treatment, treatment)
                fields.setdefault(label, []).extend(names)
        self.audit.append(
            AuditEvent(
                action=action,
                outcome=outcome,
                client_id=access.client_id,
                subject=access.subject,
                purpose=purpose,
                kind=kind,
                filters={f"{f.field}__{f.op}": f.value for f in filters},
                record_ids=[f"{kind}/{r.id}" for r in records],
                fields=fields,
                policy_id=decision.policy_id if decision else (policy.id if policy else None),
                policy_version=(
                    decision.policy_version if decision else (policy.version if policy else None)
                ),
                request_id=request_id,
                detail=detail or {},
            )
        )
