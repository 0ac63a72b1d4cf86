from __future__ import annotations

from pydantic import confloat

from contracts.checks import AreaCode
from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text

Longitude = confloat(ge=73.0, le=136.0)
Latitude = confloat(ge=3.0, le=54.0)


class Address(Record):
    """标准地址: the standard address that 一标三实 hangs every person, house and unit on."""

    kind = "address"
    version = 1
    label = "标准地址"

    address_code: Code = field("标准地址编码", S.INTERNAL, key=True)
    area_code: AreaCode = field("行政区划代码", S.PUBLIC)
    province: Text = field("省", S.PUBLIC)
    city: Text = field("市", S.PUBLIC)
    district: Text = field("区县", S.PUBLIC)
    street: Text = field("街道", S.PUBLIC)
    community: Text = field("社区", S.PUBLIC)
    road: Text | None = field("街路巷", S.PUBLIC, default=None)
    door_number: Text | None = field("门牌号", S.INTERNAL, default=None)
    building: Text | None = field("楼栋", S.PERSONAL, default=None)
    unit_number: Text | None = field("单元", S.PERSONAL, default=None)
    room: Text | None = field("户室", S.PERSONAL, default=None)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
    longitude: Longitude | None = field("经度", S.SENSITIVE_PERSONAL, default=None)  # type: ignore[valid-type]
    latitude: Latitude | None = field("纬度", S.SENSITIVE_PERSONAL, default=None)  # type: ignore[valid-type]
