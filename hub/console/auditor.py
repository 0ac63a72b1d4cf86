"""What an audit admin does at the pages: search the log, answer subject access by ID
number, look at the log's integrity, the access-pattern alerts, the sharing matrix and the
history of a policy.

Searches are themselves audited (``audit.search``, ``audit.subject``) with the operator as
subject, as the API and the CLI audit theirs; subject access goes through the one service
the CLI uses (``hub.sharing.auditing.subject_by_id_number``), so the number is looked up by
its blind index and never written anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contracts import CONTRACTS, contract
from hub.audit import AuditEntry, AuditEvent, AuditLog, AuditQuery
from hub.audit.patterns import MAX_ENTRIES, READS, Alert, AlertThresholds, find_alerts
from hub.audit.witnesses import trusted_witnesses
from hub.console.accounts import Operator
from hub.console.errors import NotFound
from hub.console.figures import LOCAL, Series, last_days, reads_by_day
from hub.policyfiles import PolicyRegistry, recorded, versions
from hub.sharing.auditing import subject_by_id_number
from hub.store import Store
from policies import Policy
from policies.diff import Change, diff
from policies.explain import FieldGrant, explain

SEARCH_LIMIT = 200


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


VERIFIED = "audit.verified"


@dataclass(frozen=True, slots=True)
class Integrity:
    entries: int
    checkpoint_size: int | None
    checkpoint_at: str | None
    witnesses: list[str]
    cosigned_size: int | None
    cosigners: list[str]
    """Names on the cosignature lines of the newest cosigned checkpoint."""
    last_verify: AuditEntry | None


@dataclass(frozen=True, slots=True)
class MatrixCell:
    treatment: str
    purposes: tuple[str, ...]
    rows: str
    access: str = "records"
    """``aggregate``: counted by, never served (``policies.FieldGrant.access``)."""


@dataclass(frozen=True, slots=True)
class Matrix:
    policies: list[str]
    """Column heads: ``id@vN``."""
    rows: list[tuple[str, str, list[MatrixCell | None]]]
    """(kind, field, a cell per policy; None: denied)."""

    @staticmethod
    def labels(kind: str, field: str) -> tuple[str, str]:
        """The Chinese labels of a kind and one of its fields, as the contracts name them."""
        model = contract(kind)
        return model.label, next((s.label for s in model.specs() if s.name == field), "")


class Auditor:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policies: PolicyRegistry,
        home: Path,
        thresholds: AlertThresholds | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.home = home
        self.thresholds = thresholds or AlertThresholds()
        self.clock = clock

    def alerts(self, operator: Operator) -> list[Alert]:
        """The access-pattern alerts of the log's last window (``hub.audit.patterns``);
        looking is audited (``audit.alerts``: how many of each pattern)."""
        found = find_alerts(self.audit, self.store, self.thresholds, self.clock())
        self.audit.append(
            AuditEvent(
                action="audit.alerts",
                outcome="allowed",
                subject=operator.subject,
                detail={"alerts": dict(sorted(Counter(a.pattern for a in found).items()))},
            )
        )
        return found

    def access_figures(self) -> tuple[list[dt.date], Series]:
        """Each client's audited reads per day over the last days (counts, no values)."""
        now = self.clock()
        days = last_days(now)
        since = dt.datetime.combine(days[0], dt.time(), tzinfo=LOCAL)
        entries = [
            entry
            for action in sorted(READS)
            for entry in self.audit.find(
                AuditQuery(action=action, outcome="allowed", since=since, limit=MAX_ENTRIES)
            )
        ]
        return days, reads_by_day(entries, days)

    def alert(self, operator: Operator, key: str) -> tuple[Alert, list[AuditEntry]]:
        """One alert and the entries behind it, oldest first; audited as a search."""
        found = find_alerts(self.audit, self.store, self.thresholds, self.clock())
        alert = next((a for a in found if a.key == key), None)
        if alert is None:
            raise NotFound(f"no alert {key!r} in force")
        entries = [e for seq in alert.seqs if (e := self.audit.entry(seq))]
        self.audit.append(
            AuditEvent(
                action="audit.search",
                outcome="allowed",
                subject=operator.subject,
                filters={"alert": key},
                detail={"returned": len(entries), "scope": "all", "page": "audit/alerts"},
            )
        )
        return alert, [entry for entry, _ in entries]

    def search(self, operator: Operator, query: AuditQuery) -> list[AuditEntry]:
        found = self.audit.find(query)
        self.audit.append(
            AuditEvent(
                action="audit.search",
                outcome="allowed",
                subject=operator.subject,
                filters=query.described(),
                detail={"returned": len(found), "scope": "all", "page": "audit"},
            )
        )
        return found

    def subject(self, operator: Operator, id_number: str) -> list[AuditEntry]:
        """Every entry naming a record of the person with this number or searching for it."""
        return subject_by_id_number(
            self.store, self.audit, operator.subject, id_number, limit=SEARCH_LIMIT
        )

    def integrity(self) -> Integrity:
        latest = self.audit.latest()
        cosigned = self.audit.latest_cosigned()
        last = self.audit.search(action=VERIFIED, newest_first=True, limit=1)
        return Integrity(
            entries=latest.size if latest else 0,
            checkpoint_size=latest.size if latest else None,
            checkpoint_at=latest.at.isoformat(timespec="seconds") if latest else None,
            witnesses=[w.name for w in trusted_witnesses(self.home)],
            cosigned_size=cosigned.size if cosigned else None,
            cosigners=_cosigners(cosigned.note) if cosigned else [],
            last_verify=last[0] if last else None,
        )

    def verify(self, operator: Operator) -> AuditEntry:
        """Verify the whole log now against the witnesses the home names, and record the
        result (``audit.verified``), which the integrity page shows as the last verify."""
        result = self.audit.verify(witnesses=trusted_witnesses(self.home))
        seq = self.audit.append(
            AuditEvent(
                action=VERIFIED,
                outcome="allowed" if result.ok else "error",
                subject=operator.subject,
                detail={
                    "ok": result.ok,
                    "entries": result.entries,
                    "checkpoints": result.checkpoints,
                    "cosignatures": result.cosignatures,
                    "first_bad": result.first_bad,
                    "reason": result.reason,
                },
            )
        )
        found = self.audit.entry(seq)
        if found is None:
            raise NotFound(f"audit entry {seq} is gone")
        return found[0]

    def matrix(self) -> Matrix:
        """The policies in force: for each kind and field, who sees it how."""
        return sharing_matrix([p for i in self.policies.ids() if (p := self.policies.get(i))])

    def history(self, policy_id: str) -> list[tuple[int, str, str]]:
        """(version, digest, recorded at) of every version ever in force, oldest first."""
        found = versions(self.store, policy_id)
        if not found:
            raise NotFound(f"no policy {policy_id!r} was ever in force")
        return [(v, digest, at.isoformat(timespec="seconds")) for v, digest, at in found]

    def policy_ids(self) -> list[str]:
        return sorted(self.policies.ids())

    def diff(self, policy_id: str, before: int, after: int) -> list[Change]:
        """What the later version widens or narrows: ``hub policy diff``'s answer."""
        old, new = (self._version(policy_id, v) for v in (before, after))
        return policy_changes(old, new)

    def _version(self, policy_id: str, version: int) -> Policy:
        policy = recorded(self.store, policy_id, version)
        if policy is None:
            raise NotFound(f"no version {version} of policy {policy_id!r} was recorded")
        return policy


def sharing_matrix(policies: list[Policy]) -> Matrix:
    """The ``explain`` answer for every field of every kind, as one table."""
    ordered = sorted(policies, key=lambda p: p.id)
    heads = [p.ref for p in ordered]
    rows = []
    for kind, model in sorted(CONTRACTS.items()):
        for field in model.model_fields:
            found = explain(ordered, f"{kind}.{field}")
            grants = {g.policy_id: g for g in found if not g.break_glass}
            cells = [_cell(grants.get(p.id)) for p in ordered]
            rows.append((kind, field, cells))
    return Matrix(heads, rows)


def policy_changes(old: Policy, new: Policy) -> list[Change]:
    """Every change from ``old`` to ``new``, widening or narrowing (``policies.diff``, the
    one ``hub policy diff`` prints)."""
    return diff(old, new)


def _cell(grant: FieldGrant | None) -> MatrixCell | None:
    if grant is None:
        return None
    return MatrixCell(str(grant.treatment), grant.purposes, grant.rows, grant.access)


def _cosigners(note: str) -> list[str]:
    """The names on a note's signature lines after the hub's own (the witnesses')."""
    _, _, signatures = note.partition("\n\n")
    names = [line.split()[1] for line in signatures.splitlines() if line.startswith("— ")]
    return names[1:]
