"""What a new version of a policy grants that the old did not, and what it takes away.

``diff(old, new)`` lists every change, each marked as widening (the partner may get
something it could not get before) or narrowing; a change that does both (a treatment
swapped for an incomparable one, a row rule that admits some rows more and some less) is
listed once for each. ``hub policy diff`` exits 1 when anything widens.

Treatments are ordered ``deny < hash, mask, year_only < allow``: ``allow`` serves the
value, the middle three each serve something derived from it and nothing ``deny`` does
not serve; among themselves they are incomparable (``mask`` shows part of the clear
value, the area code, which ``hash`` does not; ``hash`` lets the partner link every
record of one person, which ``mask`` does not; ``year_only`` fits dates, the other two
text, so a field never moves between them and the others), so a move between two of them
is a widening (something new is served) and a narrowing.

Row rules are compared exactly, not by their text: the new rows widen when some caller
(any claims) and some record are admitted by the new rule and not by the old, found by
trying a finite set of callers and records that is complete for the rule language
(``_witness``), each judged by the evaluator itself (``policies.admits``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from policies.evaluate import admits, row_scope
from policies.model import MATCH_WORDS, KindGrant, Policy, Rows, Treatment

Direction = Literal["widens", "narrows"]


@dataclass(frozen=True, slots=True)
class Change:
    where: str
    """``purposes``, ``person.actions``, ``person.fields.id_number``, ``person.rows``,
    ``work_orders.issue``…"""
    before: str
    after: str
    direction: Direction
    example: str = ""
    """For a row rule: a caller and a record only one of the two versions admits."""

    @property
    def widens(self) -> bool:
        return self.direction == "widens"

    @property
    def kind(self) -> str:
        head = self.where.split(".")[0]
        policy_wide = ("policy", "purposes", "police", "role", "work_orders", "break_glass")
        return head if head not in policy_wide else ""

    @property
    def item(self) -> str:
        return self.where.removeprefix(f"{self.kind}.") if self.kind else self.where


def treatment_order(before: Treatment, after: Treatment) -> set[Direction]:
    """How moving a field from ``before`` to ``after`` changes what is served."""
    if before == after:
        return set()
    rank = {Treatment.DENY: 0, Treatment.ALLOW: 2}
    low, high = rank.get(before, 1), rank.get(after, 1)
    if low == high == 1:  # two of the incomparable middle treatments
        return {"widens", "narrows"}
    return {"widens"} if high > low else {"narrows"}


def diff(old: Policy, new: Policy) -> list[Change]:
    """Every change from ``old`` to ``new`` and which way it goes."""
    changes = list(_sets("purposes", old.purposes, new.purposes))
    changes += _cases(old, new)
    changes += _break_glass(old, new)
    changes += _flag("police", old.police, new.police)
    changes += _flag("role", old.role == "auditor", new.role == "auditor", old.role, new.role)
    for kind in sorted(set(old.kinds) | set(new.kinds)):
        changes += _kind(kind, old.kinds.get(kind), new.kinds.get(kind))
    before, after = old.work_orders, new.work_orders
    changes += _rows(
        "work_orders.rows", before.rows if before else None, after.rows if after else None
    )
    for side in ("issue", "receive"):
        was = getattr(before, side) if before else []
        now = getattr(after, side) if after else []
        changes += _sets(f"work_orders.{side}", was, now)
    return changes


def _cases(old: Policy, new: Policy) -> list[Change]:
    """A purpose both versions grant, bound to a case in one and not the other: unbinding
    it widens (any record in scope, no case cited); binding it narrows; binding it to
    another kind of case does both."""
    changes = []
    for purpose in sorted(set(old.purposes) & set(new.purposes)):
        was, now = old.requires_case(purpose), new.requires_case(purpose)
        if was == now:
            continue
        where = f"purposes.{purpose}.requires"
        shown = (was or "-", now or "-")
        if was is None or now is None:
            changes.append(Change(where, *shown, "narrows" if now else "widens"))
        else:
            changes += [Change(where, *shown, "widens"), Change(where, *shown, "narrows")]
    return changes


def _break_glass(old: Policy, new: Policy) -> list[Change]:
    """Kinds a session may read beyond the policy, the box, and approving others'."""
    was, now = old.break_glass, new.break_glass
    changes = list(_sets("break_glass.kinds", was.kinds if was else [], now.kinds if now else []))
    changes += _flag("break_glass.approve", bool(was and was.approve), bool(now and now.approve))
    if was and now and was.kinds and now.kinds and was.minutes != now.minutes:
        way: Direction = "widens" if now.minutes > was.minutes else "narrows"
        changes.append(Change("break_glass.minutes", str(was.minutes), str(now.minutes), way))
    return changes


def widenings(changes: Iterable[Change]) -> list[Change]:
    return [c for c in changes if c.widens]


def _kind(kind: str, old: KindGrant | None, new: KindGrant | None) -> list[Change]:
    changes = list(_sets(f"{kind}.actions", old.actions if old else [], new.actions if new else []))
    if old and new:  # a kind granted or withdrawn whole is told by its actions
        access = (old.access, new.access)
        changes += _flag(f"{kind}.access.records", old.rows_granted, new.rows_granted, *access)
        changes += _flag(f"{kind}.access.counts", old.counts_granted, new.counts_granted, *access)
        if old.counts_granted and new.counts_granted and old.min_cell != new.min_cell:
            way: Direction = "widens" if new.min_cell < old.min_cell else "narrows"
            changes.append(Change(f"{kind}.min_cell", str(old.min_cell), str(new.min_cell), way))
    changes += _rows(f"{kind}.rows", old.rows if old else None, new.rows if new else None)
    was = old.fields if old else {}
    now = new.fields if new else {}
    for name in sorted(set(was) | set(now)):
        a, b = was.get(name, Treatment.DENY), now.get(name, Treatment.DENY)
        for direction in sorted(treatment_order(a, b), reverse=True):
            changes.append(Change(f"{kind}.fields.{name}", a.value, b.value, direction))
    for listed in ("write", "submit"):
        changes += _sets(
            f"{kind}.{listed}",
            getattr(old, listed) if old else [],
            getattr(new, listed) if new else [],
        )
    return changes


def _sets(where: str, before: Iterable[str], after: Iterable[str]) -> Iterator[Change]:
    was, now = set(before), set(after)
    for name in sorted(now - was):
        yield Change(where, "-", name, "widens")
    for name in sorted(was - now):
        yield Change(where, name, "-", "narrows")


def _flag(
    where: str, before: bool, after: bool, shown_before: str = "", shown_after: str = ""
) -> list[Change]:
    if before == after:
        return []
    shown = (shown_before or str(before).lower(), shown_after or str(after).lower())
    return [Change(where, *shown, "widens" if after else "narrows")]


def _rows(where: str, old: Rows | None, new: Rows | None) -> list[Change]:
    changes = []
    gained = _witness(new, old)
    if gained is not None:
        changes.append(Change(where, _said(old), _said(new), "widens", gained))
    lost = _witness(old, new)
    if lost is not None:
        changes.append(Change(where, _said(old), _said(new), "narrows", lost))
    return changes


def _said(rows: Rows | None) -> str:
    if rows is None:
        return "-"
    parts = ["all rows"] if rows.all else []
    parts += [f"{j.field} {MATCH_WORDS[j.match]} claim {j.claim}" for j in rows.jurisdiction]
    said = " or ".join(parts)
    for c in rows.where:
        test = (
            f"starts with {c.prefix}"
            if c.prefix is not None
            else f"a grid of {list(c.area)}"
            if c.area is not None
            else f"in {list(c.in_)}"
            if c.in_ is not None
            else f"= {c.equals}"
        )
        said += f", {c.field} {test}"
    return said


def _witness(wider: Rows | None, narrower: Rows | None) -> str | None:
    """A caller and a record ``wider`` admits and ``narrower`` does not, in words; None if
    there is none (``None`` rows: the kind is not granted, no row is admitted).

    Why the search is complete. Jurisdictions only gain rows as a caller's claims grow,
    so if any caller is a witness, one holding a single value ``t`` of the one claim that
    admits the row under ``wider`` is (none at all for ``all: true``). Every test in a rule
    compares a field with a constant the rules compare it with (equals, in, starts with)
    or with ``t`` (equals, starts with): a field's value matters only through the longest
    such constant it starts with and whether it is that constant, so each field needs only
    those constants, each followed by a character no constant holds, and such a character
    alone (distinct per field: no record needs two fields to hold one value, as no rule
    asks a field to equal another, so the witness keeps them apart); ``t`` needs only the
    admitting field's value or one of its prefixes.
    """
    if wider is None:
        return None
    fields = sorted(
        {j.field for r in (wider, narrower) if r for j in r.jurisdiction}
        | {c.field for r in (wider, narrower) if r for c in r.where}
    )
    constants = {name: _constants(name, wider, narrower) for name in fields}
    taken = "".join(str(c) for found in constants.values() for c in found)
    marks = [m for m in map(chr, range(0xE000, 0xF8FF)) if m not in taken][: len(fields)]
    values = {
        name: [
            *constants[name],
            *(f"{c}{mark}z" for c in constants[name] if isinstance(c, str)),
            f"{mark}z",
        ]
        for name, mark in zip(fields, marks, strict=True)
    }
    reaches: list[tuple[str, str] | None] = [None] if wider.all else []
    reaches += [(j.claim, j.field) for j in wider.jurisdiction]
    for reach in reaches:
        for chosen in itertools.product(*(values[name] for name in fields)):
            row = dict(zip(fields, chosen, strict=True))
            callers = [{reach[0]: [t]} for t in _claim_values(row.get(reach[1]))] if reach else [{}]
            for claims in callers:
                if admits(row_scope(wider, claims), row) and not (
                    narrower and admits(row_scope(narrower, claims), row)
                ):
                    return _example(claims, row)
    return None


def _claim_values(value: Any) -> list[str]:
    """The claim values worth trying for a row whose field holds ``value``."""
    if not isinstance(value, str):
        return []
    return [value[:n] for n in range(len(value), -1, -1)]


def _constants(field: str, *rules: Rows | None) -> list[Any]:
    """The constants the rules compare ``field`` with."""
    found: list[Any] = []
    for rule in rules:
        for c in rule.where if rule else ():
            if c.field != field:
                continue
            for value in (c.prefix, c.equals, *(c.in_ or ())):
                if value is not None and value not in found:
                    found.append(value)
    return found


def _example(claims: dict[str, list[str]], row: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        text = str(value)
        return "".join("…" if 0xE000 <= ord(ch) <= 0xF8FF else ch for ch in text)

    caller = ", ".join(f"{k}=[{shown(v[0])}]" for k, v in claims.items()) or "no claims"
    record = ", ".join(f"{k}={shown(v)}" for k, v in row.items()) or "any record"
    return f"a caller with {caller}, a record with {record}"


def diff_all(old: Mapping[str, Policy], new: Mapping[str, Policy]) -> dict[str, list[Change]]:
    """Two folders of policies compared by id: each policy's changes; one only in ``new``
    is granted whole (widens), one only in ``old`` withdrawn (narrows)."""
    found: dict[str, list[Change]] = {}
    for policy_id in sorted(set(old) | set(new)):
        before, after = old.get(policy_id), new.get(policy_id)
        if before and after:
            found[policy_id] = diff(before, after)
        elif after:
            found[policy_id] = [Change("policy", "-", after.ref, "widens")]
        elif before:
            found[policy_id] = [Change("policy", before.ref, "-", "narrows")]
    return found
