"""A sharing policy: which kinds, rows and fields a partner may see, how, and for what.

A policy is a YAML document, one per partner or role::

    id: grid-platform
    version: 3
    title: 社区网格平台
    purposes: [网格服务, 矛盾纠纷调解]
    kinds:
      person:
        actions: [read]
        rows:
          jurisdiction:                     # a row is in scope if ANY of these matches
            - {field: grid_code, claim: grid_codes}
          where:                            # and ALL of these hold
            - {field: household_type, in: [户籍, 流动]}
        fields:
          name: allow
          id_number: mask
          birth_date: year_only
          police_tags: deny
      incident:
        actions: [read, write]
        rows: {jurisdiction: [{field: grid_code, claim: grid_codes}]}
        fields: {incident_id: allow, description: allow}
        write: [incident_id, incident_type, reported_at, description]

A purpose may be bound to a case (案件): ``purposes: {社区警务: {}, 案件侦查: {requires:
incident}}``. A request under 案件侦查 must then cite an open incident within the caller's
rows (``case=``), and reads only the records linked to it (``hub.sharing.cases``). The
plain list form means no purpose is bound.

Everything not named is denied: a kind, an action, a purpose, a field, a field to write.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Treatment(StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    HASH = "hash"
    """A keyed pseudonym that differs per partner: two partners cannot join on it."""
    YEAR_ONLY = "year_only"
    DENY = "deny"


class Jurisdiction(BaseModel):
    """Rows whose ``field`` is among the values of the caller's token claim ``claim``
    (``equals``), starts with one (``prefix``), or, for ``grid_code``, names a grid of one
    of the communities or streets the claim names (``area``: 12- or 9-digit statistical
    area codes, expanded to their grids by the hub's grid registry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    claim: str
    match: Literal["equals", "prefix", "area"] = "equals"

    @model_validator(mode="after")
    def _area_of_grids(self) -> Self:
        if self.match == "area" and self.field != "grid_code":
            raise ValueError("match: area names the grids of an area: field grid_code only")
        return self


MATCH_WORDS = {"equals": "in", "prefix": "starts with", "area": "a grid of the areas in"}
"""A jurisdiction's match, in words (``explain``, ``diff``)."""


class Condition(BaseModel):
    """A condition on a record's own value: exactly one of ``equals``, ``in``, ``prefix``,
    or ``area`` (for ``grid_code``: a grid of the communities or streets listed, by their
    12- or 9-digit codes, as the hub's grid registry says)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str
    equals: str | int | bool | None = None
    in_: list[str | int] | None = Field(default=None, alias="in")
    prefix: str | None = None
    area: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        given = [t for t in (self.equals, self.in_, self.prefix, self.area) if t is not None]
        if len(given) != 1:
            raise ValueError("a condition takes exactly one of equals, in, prefix, area")
        if self.area is not None and self.field != "grid_code":
            raise ValueError("area names the grids of an area: field grid_code only")
        return self


CaseKind = Literal["incident", "work_order"]
"""The kinds of record a purpose may require a request to cite as its case."""


class PurposeRule(BaseModel):
    """What a purpose requires of a request beyond being declared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requires: CaseKind | None = None
    """A case the request must cite (``case=``): an incident or a work order."""


class Rows(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = False
    """Every row, whatever the caller's claims: say it in so many words."""
    jurisdiction: list[Jurisdiction] = Field(default_factory=list)
    where: list[Condition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scoped(self) -> Self:
        if self.all == bool(self.jurisdiction):
            raise ValueError("rows need a jurisdiction, or all: true (and not both)")
        return self


Action = Literal["read", "write", "submit", "review"]
"""``read`` and ``write`` records; ``submit`` them for review (上报: they wait in the review
queue, not the store); ``review`` the submissions within ``rows`` (审核入库)."""
Role = Literal["partner", "auditor"]
Access = Literal["records", "aggregate", "both"]
"""What a read grant opens: ``records`` (rows, the default), ``aggregate`` (counts only,
``GET /v1/stats``: never a row), ``both``. Counts are a door of their own: a records grant
does not open it unless it says ``both``."""


def _read_only() -> list[Action]:
    return ["read"]


class KindGrant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: list[Action] = Field(default_factory=_read_only)
    access: Access = "records"
    min_cell: int = Field(default=5, ge=1)
    """Counts below this are suppressed (reported as ``<5``) in the partner's aggregates."""
    rows: Rows
    fields: dict[str, Treatment] = Field(default_factory=dict)
    """What the partner reads, and how; under ``access: aggregate`` the fields it may group
    and filter counts by (``allow``), for no value is ever served."""

    @property
    def rows_granted(self) -> bool:
        return self.access != "aggregate"

    @property
    def counts_granted(self) -> bool:
        return self.access != "records"

    write: list[str] = Field(default_factory=list)
    """The fields a partner may write, when ``actions`` has ``write``: a record naming any
    other field is refused whole. Reading a field does not grant writing it."""
    submit: list[str] = Field(default_factory=list)
    """The fields a partner may submit for review, when ``actions`` has ``submit``."""


class WorkOrderGrant(BaseModel):
    """Which steps of the 派单 loop a partner takes, by its side of an order.

    ``issue`` lists the steps it may take on orders it issued (派发 among them: it may
    dispatch), ``receive`` those on orders it was sent; ``rows`` bounds the orders it may
    issue or be sent (by their grid or beat). What each step needs and from which state it
    may be taken is the contract's (``contracts.kinds.work_order``), not the policy's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: Rows
    issue: list[str] = Field(default_factory=list)
    receive: list[str] = Field(default_factory=list)


class BreakGlassGrant(BaseModel):
    """Break-glass (紧急调阅): reading beyond the policy in an emergency, for a stated reason,
    in a session that lasts ``minutes`` at most and that a second approver (another
    client whose policy says ``approve``, or an operator) must approve within that time,
    or the session is flagged. Under a session, a kind of ``kinds`` is read in every row
    the store holds, every field in clear (police-only ones for a police policy only);
    reads only, each one flagged in the audit log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[str] = Field(default_factory=list)
    """The kinds a session may read beyond the policy."""
    minutes: int = Field(default=30, ge=1, le=240)
    """The longest a session may last (its box)."""
    approve: bool = False
    """Its clients may approve another client's session."""


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")
    version: int = Field(ge=1)
    title: str
    police: bool = False
    """Only a police policy may grant ``police_only`` fields."""
    role: Role = "partner"
    """``auditor``: its clients search the whole audit log and answer subject access
    requests; a ``partner``'s clients see the entries of their own requests only."""
    purposes: list[str] = Field(min_length=1)
    cases: dict[str, CaseKind] = Field(default_factory=dict)
    """The purposes bound to a case, and the kind of case each requires. Written in a
    document as rules of the mapping form of ``purposes``; kept apart so that ``purposes``
    stays the list of names every check reads."""
    kinds: dict[str, KindGrant] = Field(default_factory=dict)
    work_orders: WorkOrderGrant | None = None
    """The partner's part in the work-order loop; none: it takes no step."""
    break_glass: BreakGlassGrant | None = None
    """Break-glass sessions its clients may open or approve; none: neither."""

    @model_validator(mode="before")
    @classmethod
    def _purpose_rules(cls, document: Any) -> Any:
        """The mapping form of ``purposes`` as the list of names and ``cases``."""
        if not isinstance(document, dict) or not isinstance(document.get("purposes"), dict):
            return document
        rules = {
            name: PurposeRule.model_validate(rule or {})
            for name, rule in document["purposes"].items()
        }
        cases = {name: rule.requires for name, rule in rules.items() if rule.requires}
        return {**document, "purposes": list(rules), "cases": cases}

    @model_validator(mode="after")
    def _cases_are_purposes(self) -> Self:
        unknown = sorted(set(self.cases) - set(self.purposes))
        if unknown:
            raise ValueError(f"cases name purposes the policy does not grant: {unknown}")
        return self

    def requires_case(self, purpose: str) -> CaseKind | None:
        """The kind of case a request under ``purpose`` must cite, if any."""
        return self.cases.get(purpose)

    @property
    def digest(self) -> str:
        """A short digest of the content: two documents with one version number differ here."""
        content = self.model_dump(mode="json")
        # Defaults of what was added later are left out: the digests recorded before hold.
        if self.role == "partner":
            del content["role"]
        if self.work_orders is None:
            del content["work_orders"]
        if not self.cases:
            del content["cases"]
        if self.break_glass is None:
            del content["break_glass"]
        scoped = [grant["rows"] for grant in content["kinds"].values()]
        if content.get("work_orders"):
            scoped.append(content["work_orders"]["rows"])
        for rows in scoped:
            for condition in rows["where"]:
                if condition["area"] is None:
                    del condition["area"]
        for grant in content["kinds"].values():
            if not grant["submit"]:
                del grant["submit"]
            if grant["access"] == "records":
                del grant["access"]
            if grant["min_cell"] == 5:
                del grant["min_cell"]
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def ref(self) -> str:
        return f"{self.id}@v{self.version}"

    def grant(self, kind: str) -> KindGrant | None:
        return self.kinds.get(kind)

    def as_dict(self) -> dict[str, Any]:
        """The document, in the form it is written: bound purposes as rules."""
        document = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        cases = document.pop("cases", None)
        if cases:
            document["purposes"] = {
                name: {"requires": cases[name]} if name in cases else {} for name in self.purposes
            }
        return document
