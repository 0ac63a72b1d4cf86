"""Who reads the audit log, and how much: a partner its own entries, an auditor all.

A client whose policy has ``role: auditor`` searches every entry and answers subject
access requests (PIPL art. 45: "which of my records were seen, by whom, for what"); any
other client searches the entries of its own requests only (``client_id`` = itself).
Every search is itself an entry (``audit.search``, ``audit.subject``): its filters, how
many entries it returned. A person is named in it by record id or by the blind index of
their ID number, never by the number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.audit import AuditEntry, AuditEvent, AuditLog, AuditQuery
from hub.audit.search import BLIND_INDEX_PREFIX
from hub.policyfiles import PolicyRegistry
from hub.sharing.errors import Denied, NotFound
from hub.sharing.ids import RecordIds
from hub.sharing.service import EVERY_ROW, Access, Sharing
from hub.store import Store
from hub.store.query import Filter, select_rows
from hub.store.tables import KIND_TABLES
from policies import Policy

LINKED_MAX = 1000
"""Records of one person looked for per kind: every source's record, the houses owned."""


class Auditing:
    def __init__(
        self, store: Store, audit: AuditLog, policies: PolicyRegistry, ids: RecordIds
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.ids = ids

    @classmethod
    def of(cls, sharing: Sharing) -> Auditing:
        """Over the same store, log, policies and record ids as the sharing service."""
        return cls(sharing.store, sharing.audit, sharing.policies, sharing.ids)

    def search(
        self, access: Access, query: AuditQuery, request_id: str, *, record: str | None = None
    ) -> list[dict[str, Any]]:
        """The entries ``query`` selects that ``access`` may see, as it may see them: all,
        as the log holds them, for an auditor; for a partner its own (``Denied``,
        ``own_entries_only``, if it names another client), record ids as its own ids.

        ``record`` (``kind/<id>``) is a record as the caller knows it: its own id for it,
        or for an auditor also the hub's database id that entries show it."""
        policy = self._policy(access, "audit.search", query, request_id)
        auditor = policy.role == "auditor"
        if not auditor:
            if query.client_id not in (None, access.client_id):
                raise self._denied(
                    access, "audit.search", query, request_id, policy, "own_entries_only"
                )
            query = dataclasses.replace(query, client_id=access.client_id)
        if record is not None:
            named = self._record(access, record, auditor=auditor)
            if named is None:
                raise self._denied(access, "audit.search", query, request_id, policy, "record")
            query = dataclasses.replace(query, record_ids=(named,))
        found = self.audit.find(query)
        scope = {"scope": "all" if auditor else "own"}
        self.audit.append(
            self._event(access, "audit.search", query, request_id, policy, found, scope)
        )
        return [self._view(access, entry, auditor=auditor) for entry in found]

    def _record(self, access: Access, record: str, *, auditor: bool) -> str | None:
        kind, _, ident = record.partition("/")
        own = self.ids.decode(access.client_id, kind, ident) if kind in KIND_TABLES else None
        if own is not None:
            return f"{kind}/{own}"
        if auditor and kind in KIND_TABLES and ident.isdigit():
            return f"{kind}/{int(ident)}"
        return None

    def _view(self, access: Access, entry: AuditEntry, *, auditor: bool) -> dict[str, Any]:
        """An entry as the caller reads it. A partner is never shown a database id (two
        clients of one partner could join on it, see ``hub.sharing.ids``): the records
        it names are given as the partner's own ids; its ``hash`` covers the hub's form."""
        view = entry.as_json()
        if not auditor:
            view["record_ids"] = [self._own_id(access, r) for r in entry.event.record_ids]
        return view

    def _own_id(self, access: Access, record: str) -> str:
        kind, _, ident = record.partition("/")
        if kind not in KIND_TABLES or not ident.isdigit():
            return record
        return f"{kind}/{self.ids.encode(access.client_id, kind, int(ident))}"

    def subject(
        self, access: Access, ref: str, request_id: str, *, limit: int, after_seq: int | None
    ) -> list[dict[str, Any]]:
        """Subject access for an auditor: every entry naming a record of the person whose
        record the auditor knows as ``ref`` (its own opaque id), or searching for their ID
        number (``searched_for``), newest first."""
        query = AuditQuery(newest_first=True, limit=limit, after_seq=after_seq)
        policy = self._policy(access, "audit.subject", query, request_id)
        if policy.role != "auditor":
            raise self._denied(access, "audit.subject", query, request_id, policy, "auditor_only")
        record_id = self.ids.decode(access.client_id, "person", ref)
        person = (
            select_rows(
                self.store,
                "person",
                EVERY_ROW,
                ["id_number"],
                record_id=record_id,
                limit=1,
                include_inactive=True,
            )
            if record_id is not None
            else []
        )
        if not person:
            event = self._event(
                access, "audit.subject", query, request_id, policy, [], {"reason": "not_found"}
            )
            raise NotFound(f"no person {ref}", event.model_copy(update={"outcome": "denied"}))
        number = str(person[0].values["id_number"])
        records = person_records(self.store, number)
        query = dataclasses.replace(query, record_ids=records + searched_for(self.store, number))
        found = self.audit.find(query)
        self.audit.append(
            self._event(
                access,
                "audit.subject",
                query,
                request_id,
                policy,
                found,
                {"person": f"person/{record_id}"},
            )
        )
        return [entry.as_json() for entry in found]

    # --- decisions and their entries -------------------------------------------------------

    def _policy(self, access: Access, action: str, query: AuditQuery, request_id: str) -> Policy:
        policy = self.policies.get(access.policy_id)
        if policy is None:
            raise self._denied(access, action, query, request_id, None, "policy")
        return policy

    def _denied(
        self,
        access: Access,
        action: str,
        query: AuditQuery,
        request_id: str,
        policy: Policy | None,
        reason: str,
    ) -> Denied:
        message = {
            "policy": f"no policy {access.policy_id!r} is loaded",
            "own_entries_only": "a partner searches the audit entries of its own requests only",
            "auditor_only": "subject access is for clients of an auditor policy",
            "record": "record must be KIND/ID with an id the hub gave you",
        }[reason]
        event = self._event(access, action, query, request_id, policy, [], {"reason": reason})
        return Denied(reason, message, event.model_copy(update={"outcome": "denied"}))

    def _event(
        self,
        access: Access,
        action: str,
        query: AuditQuery,
        request_id: str,
        policy: Policy | None,
        found: list[AuditEntry],
        detail: dict[str, Any],
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            outcome="allowed",
            client_id=access.client_id,
            subject=access.subject,
            filters=query.described(),
            policy_id=policy.id if policy else None,
            policy_version=policy.version if policy else None,
            request_id=request_id,
            detail={"returned": len(found), **detail},
        )


def person_records(store: Store, id_number: str) -> tuple[str, ...]:
    """The audit log's names (``kind/<database id>``) of every record linked to the
    person: each source's person record (same ``link_key``), the houses they own."""
    links = store.index_forms(id_number)
    # Inactive records too: their values are still held, and were seen while active.
    persons = select_rows(
        store, "person", EVERY_ROW, [], link_key=links, limit=LINKED_MAX, include_inactive=True
    )
    owner = [Filter("owner_id_number", "eq", id_number)]
    owned = select_rows(
        store, "house", EVERY_ROW, [], owner, limit=LINKED_MAX, include_inactive=True
    )
    return (*(f"person/{r.id}" for r in persons), *(f"house/{r.id}" for r in owned))


def searched_for(store: Store, id_number: str) -> tuple[str, ...]:
    """How entries that searched for the number name it (``bidx:…``), under every index
    key the log was written with: an entry keeps the index of its day, and no rotation
    rewrites it."""
    return tuple(f"{BLIND_INDEX_PREFIX}{d}" for d in store.every_blind_index(id_number))


def subject_by_id_number(
    store: Store, audit: AuditLog, operator: str, id_number: str, *, limit: int
) -> list[AuditEntry]:
    """Subject access at the hub's own console (``hub audit subject``): entries naming the
    person's records or searching for the number, newest first; the query is audited as
    ``operator``'s (``cli:<login name>``), the number in it as its blind index only."""
    number = id_number.replace(" ", "").upper()
    records = person_records(store, number)
    terms = records + searched_for(store, number)
    query = AuditQuery(record_ids=terms, newest_first=True, limit=limit)
    found = audit.find(query)
    filters = query.described() | {"id_number": f"{BLIND_INDEX_PREFIX}{store.blind_index(number)}"}
    audit.append(
        AuditEvent(
            action="audit.subject",
            outcome="allowed",
            subject=operator,
            filters=filters,
            detail={"returned": len(found), "records": len(records)},
        )
    )
    return found
