"""Reconciliation per grid (the information barrier, 信息壁垒, made visible).

Of each person, house and unit in a grid: does the police hold it, the grid, or both (the
same ``link_key``, so the same ID number, house code or credit code), and where both hold
it, do their records disagree on its address, phone, occupant count or household type?
That tells a street which households to verify first.

- Which side a record is on is its source system's: ``side`` in ``sources.yaml``, and for
  a partner's pushes (``partner:<client>``) its policy's, as a visitor's side is told
  (a police policy: 公安; any other: 网格). A source of neither side is left out.
- A thing is counted in each grid one of its records in the caller's rows names, and its
  sides and disagreements are judged over all its linked records: a person the grid holds
  at another grid than the police is "both", with an address disagreement, not two
  one-sided people. A value one record lacks (None) disagrees with nothing.
- Values are compared as stored (sealed ones by their blind index, ``hub.store.compare``):
  nothing is decrypted to count.

Two doors: ``counts`` for a partner (counts only, in its rows, the disagreements only of
fields its policy serves it, audited ``stats.reconciliation``) and ``lists`` for a steward
(each thing with its records and what disagrees, audited ``reconcile.read`` as an access to
personal data: see ``lists`` for what it shows in clear).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contracts import contract
from hub.audit import AuditEvent
from hub.auth.clients import ClientRegistry
from hub.ingest.quarantine import PARTNER_PREFIX
from hub.ingest.sources import SOURCES_FILE, SourceSpec, load_sources
from hub.policyfiles import PolicyRegistry
from hub.sharing.errors import Denied, InvalidRequest
from hub.sharing.service import EVERY_ROW, Asked, Sharing
from hub.store import Store
from hub.store.compare import Comparable, linked_comparables
from hub.store.query import Filter, QueryError, select_rows
from policies import RowScope
from policies.transform import mask

Side = Literal["police", "grid"]
Status = Literal["police_only", "grid_only", "both"]
COMPARED: dict[str, dict[str, str]] = {
    "person": {"address": "address_code", "phone": "phone", "household_type": "household_type"},
    "house": {"address": "address_code", "occupant_count": "occupant_count"},
    "unit": {"address": "address_code", "phone": "phone"},
}
"""Per kind: each compared fact and the field that holds it."""
KINDS = tuple(COMPARED)
STATUSES: tuple[Status, ...] = ("police_only", "grid_only", "both")
CHUNK = 1000
"""Things whose records one statement of a steward's list reads (one bound value each)."""
TITLE = {"person": "name", "unit": "name", "house": "owner_name"}
"""The field a steward's list names each thing by, beside its key."""


class Sides:
    """The side of each source system (see the module's docstring), looked up once each."""

    def __init__(
        self, specs: Iterable[SourceSpec], clients: ClientRegistry, policies: PolicyRegistry
    ) -> None:
        self._known: dict[str, Side | None] = {spec.id: spec.side for spec in specs}
        self._clients = clients
        self._policies = policies

    @classmethod
    def of_hub(cls, home: Path, store: Store, policies: PolicyRegistry) -> Sides:
        specs = load_sources(home) if (home / SOURCES_FILE).exists() else []
        return cls(specs, ClientRegistry(store), policies)

    def declared(self) -> frozenset[Side]:
        """The sides the configured sources declare: a reconciliation with one missing
        holds nothing but one-sided things."""
        return frozenset(side for side in self._known.values() if side is not None)

    def __call__(self, source_system: str) -> Side | None:
        if source_system not in self._known:
            self._known[source_system] = self._partner(source_system)
        return self._known[source_system]

    def _partner(self, source_system: str) -> Side | None:
        if not source_system.startswith(PARTNER_PREFIX):
            return None
        client = self._clients.get(source_system.removeprefix(PARTNER_PREFIX))
        policy = None if client is None else self._policies.get(client.policy_id)
        if policy is None:
            return None
        return "police" if policy.police else "grid"


@dataclass(frozen=True, slots=True)
class Thing:
    """One real person, house or unit as the sides hold it."""

    kind: str
    link_key: str
    grids: tuple[str, ...]
    """The grids its records in the caller's rows name."""
    records: tuple[tuple[Side, Comparable], ...]
    disagreements: tuple[str, ...]
    """The compared facts (``COMPARED``) on which its records hold different values."""

    @property
    def sides(self) -> frozenset[Side]:
        return frozenset(side for side, _record in self.records)

    @property
    def status(self) -> Status:
        sides = self.sides
        return "both" if len(sides) == 2 else "police_only" if "police" in sides else "grid_only"


def reconcile(
    store: Store,
    kind: str,
    scope: RowScope,
    side_of: Callable[[str], Side | None],
    compared: Sequence[str],
    grid: str | None = None,
) -> list[Thing]:
    """Every thing of ``kind`` with a record of a side in ``scope`` (and ``grid``), by
    ``link_key``, its disagreements judged on the facts ``compared``. QueryError: ``grid``
    is not a grid code."""
    facts = COMPARED[kind]
    filters = [Filter("grid_code", "eq", grid)] if grid is not None else []
    found = linked_comparables(store, kind, scope, [facts[c] for c in compared], filters)
    grouped: dict[str, list[tuple[Side, Comparable]]] = {}
    for record in found:
        side = side_of(record.source_system)
        if side is not None:
            grouped.setdefault(record.link_key, []).append((side, record))
    things = []
    for link_key, records in grouped.items():
        grids = sorted({r.grid_code for _s, r in records if r.in_scope and r.grid_code})
        if not grids:
            continue
        differing = tuple(
            fact
            for fact in compared
            if len({r.values[facts[fact]] for _s, r in records} - {None}) > 1
        )
        things.append(Thing(kind, link_key, tuple(grids), tuple(records), differing))
    return things


@dataclass(slots=True)
class GridCounts:
    grid_code: str
    police_only: int = 0
    grid_only: int = 0
    both: int = 0
    disagreements: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "grid_code": self.grid_code,
            "police_only": self.police_only,
            "grid_only": self.grid_only,
            "both": self.both,
            "disagreements": dict(self.disagreements),
        }


def per_grid(things: Iterable[Thing], compared: Sequence[str]) -> list[GridCounts]:
    """The counts of each grid, by grid code; a fact's count is of things it differs on."""
    grids: dict[str, GridCounts] = {}
    for thing in things:
        for code in thing.grids:
            counts = grids.get(code)
            if counts is None:
                counts = grids[code] = GridCounts(code, disagreements=dict.fromkeys(compared, 0))
            setattr(counts, thing.status, getattr(counts, thing.status) + 1)
            for fact in thing.disagreements:
                counts.disagreements[fact] += 1
    return [grids[code] for code in sorted(grids)]


def totals(grids: Sequence[GridCounts], compared: Sequence[str]) -> dict[str, Any]:
    return {
        **{status: sum(getattr(g, status) for g in grids) for status in STATUSES},
        "disagreements": {fact: sum(g.disagreements[fact] for g in grids) for fact in compared},
    }


class Reconciliation:
    """The two doors (see the module's docstring) over one hub's store and policies."""

    def __init__(self, sharing: Sharing, sides: Callable[[], Sides]) -> None:
        self.sharing = sharing
        self.sides = sides
        """Read anew for each request: a source or a partner may have been added."""

    def counts(self, asked: Asked, grid: str | None) -> dict[str, Any]:
        """Per grid in the caller's rows: things known to the police only, to the grid
        only, to both, and disagreements on the facts whose fields the policy serves."""
        if asked.kind not in COMPARED:
            event = self.sharing.event(asked, "stats.reconciliation", "denied")
            raise InvalidRequest("bad_kind", f"{asked.kind} is not reconciled", event)
        filters = [Filter("grid_code", "eq", grid)] if grid is not None else []
        try:
            decision = self.sharing.decide(asked, "read", filters=filters)
        except Denied as exc:
            event = exc.event.model_copy(update={"action": "stats.reconciliation"})
            raise Denied(exc.reason, str(exc), event, **exc.extra) from None
        facts = COMPARED[asked.kind]
        compared = [fact for fact, name in facts.items() if name in decision.treatments]
        withheld = [fact for fact in facts if fact not in compared]
        try:
            things = reconcile(
                self.sharing.store, asked.kind, decision.scope, self.sides(), compared, grid
            )
        except QueryError as exc:
            raise self.sharing.bad_filter(
                asked, "stats.reconciliation", exc, filters, decision
            ) from None
        grids = per_grid(things, compared)
        summed = totals(grids, compared)
        # No field went out, only counts: the entry names the policy that decided, not
        # the decision's fields (an auditor asking who saw a field in clear must not
        # find a count).
        event = self.sharing.event(
            asked,
            "stats.reconciliation",
            "allowed",
            filters=filters,
            detail={"grids": len(grids), "totals": summed, "withheld_facts": withheld},
        )
        self.sharing.audit.append(
            event.model_copy(
                update={
                    "policy_id": decision.policy_id,
                    "policy_version": decision.policy_version,
                }
            )
        )
        return {
            "kind": asked.kind,
            "grids": [g.as_dict() for g in grids],
            "totals": summed,
            "withheld": withheld,
        }

    def overview(
        self, subject: str, kind: str, grid: str | None = None, *, door: str = "cli"
    ) -> dict[str, Any]:
        """``counts`` for a steward: every row, every fact; audited the same way, the
        operator as subject. QueryError: ``grid`` is not a grid code."""
        facts = list(COMPARED[kind])
        things = reconcile(self.sharing.store, kind, EVERY_ROW, self.sides(), facts, grid)
        grids = per_grid(things, facts)
        summed = totals(grids, facts)
        self.sharing.audit.append(
            AuditEvent(
                action="stats.reconciliation",
                outcome="allowed",
                subject=subject,
                kind=kind,
                filters={"grid_code__eq": grid} if grid else {},
                detail={"door": door, "grids": len(grids), "totals": summed},
            )
        )
        return {
            "kind": kind,
            "grids": [g.as_dict() for g in grids],
            "totals": summed,
            "withheld": [],
        }

    def lists(
        self, subject: str, kind: str, grid: str | None = None, *, door: str = "cli"
    ) -> list[dict[str, Any]]:
        """Every thing of ``kind`` (in ``grid``) one side lacks or the sides disagree on,
        with its status, each source's record (the
        hub's record id, source, side, last change) and, per disagreeing fact, each source's
        value; audited ``reconcile.read`` with every record shown, before it is returned.

        A steward looks after the data and may read it, but a list of whom to visit needs
        no secret: names and address codes (``personal``) are shown in clear, ID numbers
        and phones (``sensitive_personal``) masked with the hub's one mask, police-only
        fields never read. The thing's key is shown the same way (a house or credit code
        in clear, an ID number masked). QueryError: ``grid`` is not a grid code."""
        facts = COMPARED[kind]
        every = reconcile(self.sharing.store, kind, EVERY_ROW, self.sides(), list(facts), grid)
        things = [t for t in every if t.status != "both" or t.disagreements]
        model = contract(kind)
        specs = {spec.name: spec for spec in model.specs()}
        [key] = [spec.name for spec in model.specs() if spec.natural_key]
        names = sorted({key, TITLE[kind], *facts.values()})
        read: dict[int, dict[str, Any]] = {}
        for start in range(0, len(things), CHUNK):
            part = things[start : start + CHUNK]
            rows = select_rows(
                self.sharing.store,
                kind,
                EVERY_ROW,
                names,
                link_key=[t.link_key for t in part],
                limit=sum(len(t.records) for t in part),
            )
            read.update((row.id, row.values) for row in rows)

        def shown(name: str, value: Any) -> Any:
            if value is None or not specs[name].sensitivity.encrypted_at_rest:
                return value
            return mask(str(value))

        listed = []
        for thing in things:
            records = [(side, r, read.get(r.id, {})) for side, r in thing.records]

            listed.append(
                {
                    "kind": kind,
                    "status": thing.status,
                    "grids": list(thing.grids),
                    "key": shown(key, _first(records, key)),
                    "title": shown(TITLE[kind], _first(records, TITLE[kind])),
                    "records": [
                        {
                            "record_id": r.id,
                            "source": r.source_system,
                            "side": side,
                            "updated": r.last_updated.isoformat(),
                        }
                        for side, r, _values in records
                    ],
                    "disagreements": {
                        fact: [
                            {
                                "source": r.source_system,
                                "side": side,
                                "value": shown(facts[fact], values.get(facts[fact])),
                            }
                            for side, r, values in records
                        ]
                        for fact in thing.disagreements
                    },
                }
            )
        fields: dict[str, list[str]] = {"clear": [], "masked": []}
        for name in names:
            fields["masked" if specs[name].sensitivity.encrypted_at_rest else "clear"].append(name)
        self.sharing.audit.append(
            AuditEvent(
                action="reconcile.read",
                outcome="allowed",
                subject=subject,
                kind=kind,
                filters={"grid_code__eq": grid} if grid else {},
                record_ids=[f"{kind}/{r.id}" for t in things for _s, r in t.records],
                fields=fields,
                detail={"door": door, "things": len(listed)},
            )
        )
        return listed


def _first(records: Iterable[tuple[Any, Any, dict[str, Any]]], name: str) -> Any:
    """The first value of ``name`` any of the records holds."""
    return next((v[name] for _s, _r, v in records if v.get(name) is not None), None)
