"""Records a partner pushes in: judged on what would be stored, then admitted with their
audit entry in one transaction.

Each row is mapped exactly as it will be stored (field names or Chinese labels) and parsed
by its contract first; only then are the caller's rights checked, on those values
(``judge``, which submissions for review go through as well, with ``submit:`` for
``write:``):

- a key that is neither a field's name nor its label, or one field named twice (by name
  and by label), refuses the push: which spelling would win is not the caller's to pick;
- a field the policy does not grant for writing (``write:``) refuses the push;
- a kind the hub keeps itself (``Record.owned_by_hub``: work orders, visits) is refused;
- a row outside the caller's row scope (the parsed record's grid, type…) refuses it;
- a source key twice in one push refuses it (the later would silently shadow the earlier);
- a row larger than ``MAX_RECORD_BYTES`` refuses it (quarantine keeps rows whole).

Rows that pass are admitted through ``admit_rows``, the one door of every row: stored, or
quarantined with the rules they broke. A stored record whose natural key another source
holds is linked to it by ``link_key``, never merged; where the two disagree the audit entry
names the fields (not the values, and not to the partner: that another source knows this
person is not the partner's to learn).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from contracts import Failure, Record, RecordInvalid, contract, header_names
from hub.audit import AuditEvent
from hub.grids import store_scope
from hub.ingest.sync import Admitted, admit_rows, push_stream
from hub.sharing.errors import Denied, InvalidRequest, TooLarge
from hub.sharing.service import Asked, Sharing
from hub.store import Transaction
from policies import Decision, admits

MAX_RECORD_BYTES = 64 * 1024
"""A pushed record's size as JSON: a contract's largest text field is 2,000 characters."""


WriteAction = Literal["write", "submit"]
"""How a partner's records come in: written to the store (``push``), or submitted for
review (``hub.work.reviews``); both are judged by ``judge``."""
GERUND = {"write": "writing", "submit": "submitting"}


@dataclass(frozen=True)
class Judged:
    """One row of a push or submission that passed: the record as it would be stored, or
    the rules it broke (a push quarantines it, a submission is refused)."""

    source_key: str
    record: Record | None
    failures: tuple[Failure, ...] = ()


def judge(
    sharing: Sharing,
    asked: Asked,
    action: WriteAction,
    rows: Sequence[tuple[str, dict[str, Any]]],
) -> tuple[Decision, list[Judged]]:
    """The decision for writing or submitting ``rows``, and each row mapped and parsed as
    it would be stored; or the whole request refused (``Denied``, ``InvalidRequest``,
    ``TooLarge``) for a kind the hub keeps, a shape it cannot read, a field outside the
    policy's ``write:`` or ``submit:`` list, or a record outside the caller's rows."""
    model = contract(asked.kind)
    if model.owned_by_hub:
        event = refusal(sharing, asked, action, None, {"reason": "owned_by_hub"})
        raise Denied(
            "owned_by_hub",
            f"{asked.kind} records are kept by the hub: they change through its own routes",
            event,
        )
    decision = sharing.decide(asked, action)
    scope = store_scope(sharing.store, decision.scope)
    _no_duplicates(sharing, asked, action, decision, rows)
    stream = push_stream(asked.kind)
    judged: list[Judged] = []
    outside: list[str] = []
    for key, row in rows:
        _check_shape(sharing, asked, action, decision, model, key, row)
        mapped = stream.mapping.apply(model, row)
        refused = sorted(set(mapped) - decision.writable)
        if refused:
            event = refusal(
                sharing,
                asked,
                action,
                decision,
                {"reason": f"{action}_fields", "source_key": key, "fields": refused},
            )
            raise Denied(
                action, f"fields not granted for {GERUND[action]}: {', '.join(refused)}",
                event, fields=refused, source_key=key,
            )  # fmt: skip
        try:
            record: Record | None = model.parse(mapped)
            failures: tuple[Failure, ...] = ()
        except RecordInvalid as exc:
            record, failures = None, exc.failures
        if not admits(scope, mapped if record is None else record.model_dump()):
            outside.append(key)
        judged.append(Judged(key, record, failures))
    if outside:
        event = refusal(
            sharing, asked, action, decision, {"reason": "out_of_scope", "source_keys": outside}
        )
        raise Denied("scope", "records outside your scope", event, source_keys=outside)
    return decision, judged


def push(
    sharing: Sharing, asked: Asked, rows: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each row answered ``stored`` (with the partner's id of it) or ``quarantined`` (with
    its failures); or the whole push refused, nothing stored."""
    decision, _ = judge(sharing, asked, "write", rows)
    stream = push_stream(asked.kind)
    source_id = partner_source(asked.access.client_id)
    located: dict[str, tuple[int, str]] = {}

    def audit(tx: Transaction, admitted: Admitted) -> None:
        located.update(tx.located(asked.kind, source_id, admitted.stored))
        detail: dict[str, Any] = {
            "stored": admitted.stored,
            "quarantined": [entry.source_key for entry in admitted.quarantined],
        }
        if disagreements := disagreements_of(tx, asked.kind, source_id, located):
            detail["disagreements"] = disagreements
        sharing.audit.append(
            sharing.event(
                asked,
                "records.write",
                "allowed",
                decision=decision,
                record_ids=[f"{asked.kind}/{record_id}" for record_id, _ in located.values()],
                detail=detail,
            ),
            tx,
        )

    admitted = admit_rows(
        sharing.store,
        source_id,
        stream,
        [row | {"source_key": key} for key, row in rows],
        run_id=asked.request_id,
        audit=audit,
    )
    held = {entry.source_key: entry.failures for entry in admitted.quarantined}
    client = asked.access.client_id
    return [
        {"source_key": key, "status": "quarantined", "failures": held[key]}
        if key in held
        else {
            "source_key": key,
            "status": "stored",
            "id": sharing.ids.encode(client, asked.kind, located[key][0]),
        }
        for key, _ in rows
    ]


def partner_source(client_id: str) -> str:
    """The source system a partner's records are stored under, pushed or submitted and
    accepted: each partner's statements are its own, linked to others' by natural key."""
    return f"partner:{client_id}"


def refusal(
    sharing: Sharing,
    asked: Asked,
    action: WriteAction,
    decision: Decision | None,
    detail: dict[str, Any],
) -> AuditEvent:
    """The audit event of a refused write or submission."""
    return sharing.event(asked, f"records.{action}", "denied", decision=decision, detail=detail)


def _no_duplicates(
    sharing: Sharing,
    asked: Asked,
    action: WriteAction,
    decision: Decision,
    rows: Sequence[tuple[str, Any]],
) -> None:
    twice = sorted(key for key, n in Counter(key for key, _ in rows).items() if n > 1)
    if twice:
        event = refusal(
            sharing,
            asked,
            action,
            decision,
            {"reason": "duplicate_source_key", "source_keys": twice},
        )
        raise InvalidRequest(
            "duplicate_source_key", "a source key appears twice in one request", event,
            source_keys=twice,
        )  # fmt: skip


def _check_shape(
    sharing: Sharing,
    asked: Asked,
    action: WriteAction,
    decision: Decision,
    model: type[Record],
    key: str,
    row: dict[str, Any],
) -> None:
    def refuse(code: str, message: str, **about: Any) -> InvalidRequest:
        detail = {"reason": code, "source_key": key, **about}
        event = refusal(sharing, asked, action, decision, detail)
        return InvalidRequest(code, message, event, source_key=key, **about)

    size = len(json.dumps(row, ensure_ascii=False, default=str).encode())
    if size > MAX_RECORD_BYTES:
        detail = {"reason": "too_large", "source_key": key, "bytes": size}
        event = refusal(sharing, asked, action, decision, detail)
        raise TooLarge(f"record {key} is {size} bytes; at most {MAX_RECORD_BYTES}", event)
    names = header_names(model)
    spelled: dict[str, str] = {}
    for column in row:
        name = names.get(column)
        if name is None:
            raise refuse(
                "unknown_field", f"{model.kind} has no field {column[:64]!r}", field=column[:64]
            )
        if name in spelled:
            raise refuse(
                "field_named_twice",
                f"{name} is named twice ({spelled[name]!r} and {column!r})",
                field=name,
            )
        spelled[name] = column


def disagreements_of(
    tx: Transaction, kind: str, source_id: str, located: dict[str, tuple[int, str]]
) -> dict[str, dict[str, Any]]:
    """For stored records linked to another source's record: the fields that differ."""
    links = {link: key for key, (_, link) in located.items()}
    if not links:
        return {}
    others = tx.linked_elsewhere(kind, source_id, sorted(links))
    mine = tx.records_of(kind, source_id, [links[link] for link in others])
    found: dict[str, dict[str, Any]] = {}
    for link, records in others.items():
        key = links[link]
        own = mine[key].model_dump()
        differ: set[str] = set()
        for other in records:
            theirs = other.model_dump()
            differ |= {
                n for n, v in own.items() if v is not None and theirs.get(n) not in (None, v)
            }
        found[key] = {"linked": len(records), "fields": sorted(differ)}
    return found
