from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal, get_args

from pydantic import AwareDatetime, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class VisitResult(StrEnum):
    CONFIRMED = "属实"
    NOT_CONFIRMED = "不属实"
    SEPARATED = "人户分离"
    """The person is registered here but lives elsewhere (or the other way round)."""
    MOVED_AWAY = "已搬离"
    CHANGED = "信息变更"
    NOBODY_HOME = "无人"


class VisitorSide(StrEnum):
    """Who went to the door: the police (社区民警) or the grid (网格员)."""

    POLICE = "公安"
    GRID = "网格"


VerifiedKind = Literal["address", "person", "house", "unit"]
"""What is verified door to door: 一标三实, the standard address and the real population,
housing and units. Incidents and work orders are followed up, not verified."""
VERIFIED_KINDS: tuple[str, ...] = get_args(VerifiedKind)


class Visit(Record):
    """走访核查: who verified which record, when, and what they found.

    ``record_key`` is the verified record's natural key (an ID number, a house code…), so a
    visit verifies the real person or place, whichever source's copy the visitor was shown:
    its blind index is the ``link_key`` every copy shares. ``grid_code`` and ``beat_code``
    are the verified record's, so a visit lies in the jurisdictions of what it verified.
    """

    kind = "visit"
    version = 2
    owned_by_hub = True
    label = "走访核查"

    STATED: ClassVar[frozenset[str]] = frozenset({"result", "note", "visitor", "visited_at"})
    """What the visitor states; every other field the hub fills from the verified record
    and the visitor's policy. A policy's ``write:`` for visits lists only these."""

    visit_id: Code = field("走访编号", S.INTERNAL, key=True)
    record_kind: VerifiedKind = field("核查对象类型", S.INTERNAL)
    record_key: Text = field("核查对象标识", S.SENSITIVE_PERSONAL)
    side: VisitorSide | None = field("走访方", S.INTERNAL, default=None)
    """Set on every visit the hub records; None only on a visit kept before contract v2,
    which did not say, and of which the hub will not guess."""
    visitor: Text = field("走访人", S.PERSONAL)
    visitor_org: Text = field("走访单位", S.INTERNAL)
    visited_at: AwareDatetime = field("走访时间", S.INTERNAL)
    result: VisitResult = field("核查结果", S.INTERNAL)
    note: Text | None = field("备注", S.PERSONAL, default=None)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)

    @field_validator("result")
    @classmethod
    def _result_fits_the_kind(cls, value: VisitResult, info: ValidationInfo) -> VisitResult:
        kind = info.data.get("record_kind")
        if value is VisitResult.SEPARATED and kind not in (None, "person"):
            raise PydanticCustomError(
                "result_for_kind", "{result} is found of a person only", {"result": value.value}
            )
        return value
