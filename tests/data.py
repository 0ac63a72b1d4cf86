"""Known-valid records of every kind, shared by the tests."""

from __future__ import annotations

import datetime as dt

from contracts import Address, House, Incident, Person, Record, Unit, Visit, WorkOrder

CST = dt.timezone(dt.timedelta(hours=8))

ID_NUMBERS = ["320104199003071231", "320102198506120026", "320104201203150014"]
"""Valid GB 11643 numbers (秦淮区 1990 male, 玄武区 1985 female, 秦淮区 2012 male)."""


def make_records() -> dict[str, Record]:
    t0 = dt.datetime(2026, 11, 1, 9, 30, tzinfo=CST)
    return {
        "address": Address.parse(
            {
                "address_code": "320104001001001",
                "area_code": "320104",
                "province": "江苏省",
                "city": "南京市",
                "district": "秦淮区",
                "street": "夫子庙街道",
                "community": "钞库街社区",
                "road": "钞库街",
                "door_number": "38号",
                "building": "2幢",
                "unit_number": "1单元",
                "room": "302室",
                "grid_code": "G320104001",
                "beat_code": "B32010401",
                "longitude": 118.79,
                "latitude": 32.02,
            }
        ),
        "person": Person.parse(
            {
                "id_number": ID_NUMBERS[0],
                "name": "张伟",
                "sex": "男",
                "birth_date": "1990-03-07",
                "ethnicity": "汉族",
                "phone": "13812345678",
                "household_type": "户籍",
                "address_code": "320104001001001",
                "house_code": "H320104001001",
                "grid_code": "G320104001",
                "beat_code": "B32010401",
                "police_tags": ["重点关注"],
            }
        ),
        "house": House.parse(
            {
                "house_code": "H320104001001",
                "address_code": "320104001001001",
                "use": "出租",
                "owner_id_number": ID_NUMBERS[1],
                "owner_name": "李娜",
                "occupant_count": 3,
                "grid_code": "G320104001",
                "beat_code": "B32010401",
            }
        ),
        "unit": Unit.parse(
            {
                "credit_code": "91320104MA1U1T3D00",
                "name": "南京秦淮某某餐饮有限公司",
                "unit_type": "企业",
                "legal_representative": "王强",
                "phone": "025-84561234",
                "address_code": "320104001001001",
                "key_unit": True,
                "grid_code": "G320104001",
                "beat_code": "B32010401",
            }
        ),
        "incident": Incident.parse(
            {
                "incident_id": "E20261101001",
                "incident_type": "矛盾纠纷",
                "reported_at": t0.isoformat(),
                "channel": "网格员巡查",
                "address_code": "320104001001001",
                "grid_code": "G320104001",
                "beat_code": "B32010401",
                "party_id_numbers": ID_NUMBERS[:2],
                "description": "邻里噪音纠纷",
                "case_notes": "双方曾有冲突记录",
                "risk_level": "中",
                "status": "处置中",
            }
        ),
        "work_order": WorkOrder.parse(
            {
                "order_id": "W20261101001",
                "order_type": "矛盾纠纷",
                "priority": "紧急",
                "related_kind": "incident",
                "related_key": "E20261101001",
                "issuing_org": "cl_police_station",
                "receiving_org": "cl_grid_platform",
                "assignee": "陈静",
                "instruction": "上门调解并反馈",
                "dispatched_at": t0.isoformat(),
                "accept_by": (t0 + dt.timedelta(hours=2)).isoformat(),
                "due_at": (t0 + dt.timedelta(days=2)).isoformat(),
                "deadline": (t0 + dt.timedelta(days=2)).isoformat(),
                "status": "签收",
                "history": [
                    {
                        "step": "派发",
                        "status": "派发",
                        "at": t0.isoformat(),
                        "by": "民警赵亮",
                        "org": "cl_police_station",
                        "receiving_org": "cl_grid_platform",
                        "grid_code": "G320104001",
                        "beat_code": "B32010401",
                    },
                    {
                        "step": "签收",
                        "status": "签收",
                        "at": (t0 + dt.timedelta(hours=1)).isoformat(),
                        "by": "陈静",
                        "org": "cl_grid_platform",
                        "assignee": "陈静",
                    },
                ],
                "grid_code": "G320104001",
                "beat_code": "B32010401",
            }
        ),
        "visit": Visit.parse(
            {
                "visit_id": "V20261102001",
                "record_kind": "person",
                "record_key": ID_NUMBERS[0],
                "side": "网格",
                "visitor": "陈静",
                "visitor_org": "钞库街社区网格站",
                "visited_at": (t0 + dt.timedelta(days=1)).isoformat(),
                "result": "属实",
                "grid_code": "G320104001",
                "beat_code": "B32010401",
            }
        ),
    }
