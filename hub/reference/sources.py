"""How the hub is configured to read the reference source systems: one mapping per stream."""

from __future__ import annotations

from pathlib import Path

from hub.ingest.sources import SourceSpec
from hub.reference.barrier import SIDES


def _fields(pairs: dict[str, str | dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: {"from": spec} if isinstance(spec, str) else spec for name, spec in pairs.items()}


POLICE_STREAMS = [
    {
        "name": "people",
        "kind": "person",
        "table": "t_rk_jbxx",
        "primary_key": "RKID",
        "cursor_field": "GXSJ",
        "mapping": {
            "fields": _fields(
                {
                    "id_number": "SFZH",
                    "name": "XM",
                    "sex": {"from": "XB", "table": "sex"},
                    "birth_date": {"from": "CSRQ", "date_format": "%Y%m%d"},
                    "ethnicity": {"from": "MZ", "table": "ethnicity"},
                    "phone": "LXDH",
                    "household_type": "HJLX",
                    "address_code": "DZBM",
                    "house_code": "FWBM",
                    "grid_code": "WGBM",
                    "beat_code": "JWQBM",
                    "police_tags": {"from": "ZDRYBQ", "split": ","},
                }
            )
        },
    },
    {
        "name": "houses",
        "kind": "house",
        "table": "t_fw",
        "primary_key": "FWBM",
        "cursor_field": "GXSJ",
        "mapping": {
            "fields": _fields(
                {
                    "house_code": "FWBM",
                    "address_code": "DZBM",
                    "use": "FWYT",
                    "owner_id_number": "CQRSFZH",
                    "owner_name": "CQRXM",
                    "occupant_count": "JZRS",
                    "grid_code": "WGBM",
                    "beat_code": "JWQBM",
                }
            )
        },
    },
    {
        "name": "units",
        "kind": "unit",
        "table": "t_dw",
        "primary_key": "TYSHXYDM",
        "cursor_field": "GXSJ",
        "mapping": {
            "fields": _fields(
                {
                    "credit_code": "TYSHXYDM",
                    "name": "DWMC",
                    "unit_type": "DWLX",
                    "legal_representative": "FDDBR",
                    "phone": "LXDH",
                    "address_code": "DZBM",
                    "key_unit": "ZDDW",
                    "grid_code": "WGBM",
                    "beat_code": "JWQBM",
                }
            )
        },
    },
]

GRID_STREAMS = [
    {
        "name": "residents",
        "kind": "person",
        "resource": "residents",
        "primary_key": "id",
        "mapping": {
            "fields": _fields(
                {
                    "id_number": "idCard",
                    "name": "name",
                    "sex": {"from": "gender", "table": "sex"},
                    "birth_date": "birthday",
                    "ethnicity": {"from": "nation", "table": "ethnicity"},
                    "phone": "mobile",
                    "household_type": "residentType",
                    "address_code": "addressCode",
                    "house_code": "houseCode",
                    "grid_code": "gridCode",
                    "beat_code": "policeBeat",
                }
            )
        },
    },
    {
        "name": "houses",
        "kind": "house",
        "resource": "houses",
        "primary_key": "houseCode",
        "mapping": {
            "fields": _fields(
                {
                    "house_code": "houseCode",
                    "address_code": "addressCode",
                    "use": "use",
                    "occupant_count": "occupants",
                    "grid_code": "gridCode",
                    "beat_code": "policeBeat",
                }
            )
        },
    },
    {
        "name": "addresses",
        "kind": "address",
        "resource": "addresses",
        "primary_key": "addressCode",
        "mapping": {
            "fields": _fields(
                {
                    "address_code": "addressCode",
                    "area_code": "areaCode",
                    "province": "province",
                    "city": "city",
                    "district": "district",
                    "street": "street",
                    "community": "community",
                    "road": "road",
                    "door_number": "doorNo",
                    "building": "building",
                    "unit_number": "unit",
                    "room": "room",
                    "grid_code": "gridCode",
                    "beat_code": "policeBeat",
                    "longitude": "lng",
                    "latitude": "lat",
                }
            )
        },
    },
    {
        "name": "events",
        "kind": "incident",
        "resource": "events",
        "primary_key": "eventNo",
        "mapping": {
            "fields": _fields(
                {
                    "incident_id": "eventNo",
                    "incident_type": "type",
                    "reported_at": "reportedAt",
                    "channel": "channel",
                    "address_code": "addressCode",
                    "grid_code": "gridCode",
                    "beat_code": "policeBeat",
                    "party_id_numbers": "parties",
                    "description": "description",
                    "risk_level": "risk",
                    "status": "status",
                }
            )
        },
    },
]

DECLARATION_STREAMS = [
    {
        "name": "people",
        "kind": "person",
        "pattern": "person_declarations*",
        "primary_key": "公民身份号码",
        "mapping": {"passthrough": True},
        "self_declared": True,
    },
    {
        "name": "units",
        "kind": "unit",
        "pattern": "unit_declarations*",
        "primary_key": "统一社会信用代码",
        "mapping": {"passthrough": True},
        "self_declared": True,
    },
]


def reference_sources(
    police_url: str, grid_url: str, grid_api_key: str, drop_folder: Path
) -> list[SourceSpec]:
    return [
        SourceSpec(
            id="police_db",
            connector="police_db",
            side=SIDES["police_db"],
            config={"url": police_url, "streams": POLICE_STREAMS},
        ),
        SourceSpec(
            id="grid_platform",
            connector="grid_platform",
            side=SIDES["grid_platform"],
            config={"base_url": grid_url, "api_key": grid_api_key, "streams": GRID_STREAMS},
        ),
        SourceSpec(
            id="declarations",
            connector="spreadsheet",
            side=SIDES["declarations"],
            config={"folder": str(drop_folder), "streams": DECLARATION_STREAMS},
        ),
    ]
