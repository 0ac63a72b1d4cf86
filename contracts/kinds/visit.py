from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime

from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class VisitResult(StrEnum):
    CONFIRMED = "属实"
    NOT_CONFIRMED = "不属实"
    CHANGED = "信息变更"
    NOBODY_HOME = "无人"


VerifiedKind = Literal["address", "person", "house", "unit", "incident", "work_order"]


class Visit(Record):
    """走访核查: who verified which record, when, and what they found."""

    kind = "visit"
    version = 1
    owned_by_hub = True
    label = "走访核查"

    visit_id: Code = field("走访编号", S.INTERNAL, key=True)
    record_kind: VerifiedKind = field("核查对象类型", S.INTERNAL)
    record_key: Text = field("核查对象标识", S.SENSITIVE_PERSONAL)
    visitor: Text = field("走访人", S.PERSONAL)
    visitor_org: Text = field("走访单位", S.INTERNAL)
    visited_at: AwareDatetime = field("走访时间", S.INTERNAL)
    result: VisitResult = field("核查结果", S.INTERNAL)
    note: Text | None = field("备注", S.PERSONAL, default=None)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
