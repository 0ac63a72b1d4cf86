"""Case-bound purposes (案件): the case a request cites, looked up, judged and turned into
the links that bind what the request reads.

A policy may bind a purpose to a case (``purposes: {案件侦查: {requires: incident}}``); a
request under it cites one (``case=INCIDENT_ID``, or a work order's id). Before anything
is read the hub checks, on the stored case, that it:

- exists (``case_not_found``), in any source;
- is within the caller's jurisdiction: at least one source's record of it lies in the
  rows the caller's own policy grants on that kind, on the caller's claims; a case outside
  them is answered as one that does not exist (``case_not_found``), the audit entry says
  which (``detail.case_check``);
- is open (``case_closed``): no source holds it closed (已办结); a case closed anywhere
  ends every access citing it.

The case then links records of each kind (``CaseFile.links``), as matches the row scope
takes on (``Decision.bind``): compiled into the query, so a page holds only linked rows,
and read again on each record returned (``Decision.linked``), so nothing goes out that is
not linked, whatever the query did. Of an incident: its parties (persons whose ``link_key``
is the blind index of a party's ID number: the numbers are opened here, indexed, and
dropped; no clear number is compared, kept or logged), the incident's address (the
address, the houses and units there), the incident itself and the work orders about it.
Of a work order: the order, its subject (by ``link_key``) and, for a house or address
subject, the persons (and houses, units) there. A kind a case links nothing of (visits)
reads nothing under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts import IncidentStatus, OrderStatus
from hub.store import Store
from hub.store.query import select_rows
from policies import AccessDenied, Citation, Claims, Match, Policy, RowScope, row_scope

EVERY_ROW = RowScope(True, (), ())
NOTHING: tuple[Match, ...] = (Match("link_key", "in", ()),)
"""The links of a kind the case links no record of."""
MAX_SOURCES = 100
"""Records of one case read at most (one per source holds it)."""


class CaseRefused(AccessDenied):
    """A cited case the hub refuses: not found (or outside the caller's rows), closed,
    or not linked to the record asked for; ``check`` says which, for the audit log."""

    def __init__(self, reason: str, message: str, case: Citation, check: str) -> None:
        super().__init__(reason, message)
        self.case = case
        self.check = check


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case found open and within the caller's rows, and what it links of each kind."""

    citation: Citation
    links: Mapping[str, tuple[Match, ...]]

    def links_of(self, kind: str) -> tuple[Match, ...]:
        return self.links.get(kind, NOTHING)


def open_case(store: Store, policy: Policy, claims: Claims, citation: Citation) -> CaseFile:
    """The cited case, or ``CaseRefused`` naming why it cannot be cited."""
    kind, key = citation.kind, citation.key
    forms = store.index_forms(key)
    every = select_rows(store, kind, EVERY_ROW, ["status"], link_key=forms, limit=MAX_SOURCES)
    if not every:
        raise CaseRefused("case_not_found", _unknown(citation), citation, "absent")
    grant = policy.grant(kind)
    scope = row_scope(grant.rows, claims) if grant and "read" in grant.actions else None
    fields = ["address_code", "party_id_numbers"] if kind == "incident" else ["related_kind"]
    if kind == "work_order":
        fields.append("related_key")
    seen = (
        select_rows(store, kind, scope, fields, link_key=forms, limit=MAX_SOURCES)
        if scope is not None
        else []
    )
    if not seen:
        raise CaseRefused("case_not_found", _unknown(citation), citation, "outside_jurisdiction")
    closed = IncidentStatus.CLOSED if kind == "incident" else OrderStatus.CLOSED
    if any(row.values["status"] == closed for row in every):
        raise CaseRefused(
            "case_closed", f"{kind} {key} is closed: no access cites it", citation, "closed"
        )
    if kind == "incident":
        addresses = tuple(sorted({row.values["address_code"] for row in seen}))
        parties = sorted({p for row in seen for p in row.values["party_id_numbers"] or ()})
        party_links = tuple(form for number in parties for form in store.index_forms(number))
        return CaseFile(citation, _incident_links(forms, key, addresses, party_links))
    subjects = {
        (row.values["related_kind"], row.values["related_key"])
        for row in seen
        if row.values["related_kind"] and row.values["related_key"]
    }
    return CaseFile(citation, _order_links(store, forms, subjects))


def _unknown(citation: Citation) -> str:
    return f"no {citation.kind} {citation.key} within your jurisdiction"


def _incident_links(
    own: list[str], key: str, addresses: tuple[str, ...], parties: tuple[str, ...]
) -> dict[str, tuple[Match, ...]]:
    at_address = (Match("address_code", "in", addresses),)
    return {
        "incident": (Match("link_key", "in", tuple(own)),),
        "person": (Match("link_key", "in", parties),),
        "address": at_address,
        "house": at_address,
        "unit": at_address,
        "work_order": (
            Match("related_kind", "in", ("incident",)),
            Match("related_key", "in", (key,)),
        ),
    }


def _order_links(
    store: Store, own: list[str], subjects: set[tuple[str, str]]
) -> dict[str, tuple[Match, ...]]:
    """An order links itself and its subject; a house subject, the persons in it; an
    address subject, the persons, houses and units there. An order with two subjects
    (sources disagree) links neither: which one it is about is not the hub's to guess."""
    links: dict[str, tuple[Match, ...]] = {"work_order": (Match("link_key", "in", tuple(own)),)}
    if len(subjects) != 1:
        return links
    [(kind, key)] = subjects
    links[kind] = (Match("link_key", "in", tuple(store.index_forms(key))),)
    if kind == "house":
        links["person"] = (Match("house_code", "in", (key,)),)
    if kind == "address":
        here = (Match("address_code", "in", (key,)),)
        links |= {"person": here, "house": here, "unit": here}
    return links
