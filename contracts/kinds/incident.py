from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime

from contracts.checks import CitizenId
from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class IncidentType(StrEnum):
    DISPUTE = "矛盾纠纷"
    HAZARD = "安全隐患"
    SUSPICIOUS = "可疑情况"
    ASSISTANCE = "求助"
    PUBLIC_ORDER = "治安"


class Channel(StrEnum):
    RESIDENT_REPORT = "居民上报"
    GRID_PATROL = "网格员巡查"
    CALL_110 = "110"


class RiskLevel(StrEnum):
    LOW = "低"
    MEDIUM = "中"
    HIGH = "高"


class IncidentStatus(StrEnum):
    OPEN = "待处置"
    IN_PROGRESS = "处置中"
    CLOSED = "已办结"


class Incident(Record):
    """警情/事件: a dispute, hazard, suspicious activity, call for help or public-order case."""

    kind = "incident"
    version = 1
    label = "警情事件"

    incident_id: Code = field("事件编号", S.INTERNAL, key=True)
    incident_type: IncidentType = field("事件类型", S.INTERNAL)
    reported_at: AwareDatetime = field("上报时间", S.INTERNAL)
    channel: Channel = field("来源渠道", S.INTERNAL)
    address_code: Code = field("标准地址编码", S.INTERNAL)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
    party_id_numbers: list[CitizenId] = field(
        "当事人身份号码", S.SENSITIVE_PERSONAL, default_factory=list
    )
    description: Text = field("事件描述", S.PERSONAL)
    case_notes: Text | None = field("案情备注", S.POLICE_ONLY, default=None)
    risk_level: RiskLevel = field("风险等级", S.INTERNAL, default=RiskLevel.LOW)
    status: IncidentStatus = field("处置状态", S.INTERNAL, default=IncidentStatus.OPEN)
