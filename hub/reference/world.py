"""A synthetic reference world: the same people and places as the police and the grid hold them.

One seed gives one world. Every person, address, house, unit and incident exists once as
the truth; each source system then holds its own share in its own shape (the police in
upper-case pinyin-initial columns, the grid platform in camelCase JSON, residents in
spreadsheets with Chinese headers), many people in more than one. A few percent of each
source's rows are broken on purpose, and every broken row is listed in ``World.defects``
with the rule that must catch it, so tests and the demo can check the hub caught them all.

The two sides do not hold the same things (信息壁垒): some people, houses and units only
the police hold, some only the grid (the grid platform or the residents' declarations),
and where both hold one they may disagree on its address, phone, occupant count or
household type: ``hub.reference.barrier`` plants such cases in each grid and lists every
one in ``World.gaps`` and ``World.disagreements``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from faker import Faker
from stdnum.cn import ric, uscc

from hub.reference.barrier import Disagreement, Gap, plant

CST = dt.timezone(dt.timedelta(hours=8))
DISTRICTS = {
    "320104": ("秦淮区", ("夫子庙街道", "中华门街道")),
    "320102": ("玄武区", ("新街口街道", "梅园新村街道")),
    "320106": ("鼓楼区", ("宁海路街道", "湖南路街道")),
}
BIRTHPLACES = ("320104", "320102", "320106", "340102", "410102", "510104", "320321", "420106")
ETHNICITIES = ("01",) * 20 + ("03", "11", "08", "02")
ETHNICITY_NAMES = {"01": "汉族", "03": "回族", "11": "满族", "08": "壮族", "02": "蒙古族"}
TAGS = ("涉稳", "吸毒", "精神障碍", "社区矫正")
HOUSE_USES = ("自住", "自住", "自住", "出租", "出租", "群租", "空置", "经营")
UNIT_TYPES = ("企业", "企业", "个体工商户", "机关事业单位", "社会组织")
INCIDENT_TYPES = ("矛盾纠纷", "安全隐患", "可疑情况", "求助", "治安")
ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class Grid:
    area_code: str
    district: str
    street: str
    community: str
    grid_code: str
    beat_code: str


@dataclass(frozen=True)
class Defect:
    """A row broken on purpose: which, how, and the ``field:rule`` that must catch it."""

    source: str
    stream: str
    source_key: str
    defect: str
    expected: str


@dataclass
class World:
    police: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    grid: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    declarations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    defects: list[Defect] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)
    """The truth about every person, in contract form."""
    gaps: list[Gap] = field(default_factory=list)
    """Every person, house and unit that only one side holds once the broken rows are out."""
    disagreements: list[Disagreement] = field(default_factory=list)
    """Every compared field on which the sources holding one thing disagree."""


def citizen_id(rng: random.Random, area: str, birth: dt.date, male: bool) -> str:
    sequence = rng.randrange(0, 499) * 2 + (1 if male else 0)
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def credit_code(rng: random.Random, area: str) -> str:
    body = "91" + area + "".join(rng.choice(ORG_CHARS) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def grids() -> list[Grid]:
    found = []
    for area, (district, streets) in DISTRICTS.items():
        for s, street in enumerate(streets, start=1):
            for c in range(1, 3):
                community = f"{street.removesuffix('街道')}第{c}社区"
                beat = f"B{area}{s:02d}{c:02d}"
                for g in range(1, 4):
                    code = f"G{area}{s:02d}{c:02d}{g}"
                    found.append(Grid(area, district, street, community, code, beat))
    return found


class _Builder:
    def __init__(
        self, people: int, seed: int, broken_share: float, registry_defects: bool = False
    ) -> None:
        self.registry_defects = registry_defects
        self.rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data)
        self.seed = seed
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.people = people
        self.broken_share = broken_share
        self.world = World()
        self.grids = grids()
        self.t0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=CST)

    def moment(self, n: int) -> dt.datetime:
        return self.t0 + dt.timedelta(seconds=37 * n)

    def build(self) -> World:
        addresses = self.addresses()
        persons = self.persons(addresses)
        self.houses(addresses, persons)
        self.units(addresses)
        self.incidents(addresses, persons)
        if self.registry_defects:
            self.break_registry()
        plant(self.world, self.seed, addresses)
        return self.world

    def addresses(self) -> list[dict[str, Any]]:
        rows = []
        for n in range(max(self.people // 3, len(self.grids))):
            grid = self.grids[n % len(self.grids)]
            code = f"{grid.grid_code[1:]}{n:05d}"
            rows.append(
                {
                    "address_code": code,
                    "area_code": grid.area_code,
                    "province": "江苏省",
                    "city": "南京市",
                    "district": grid.district,
                    "street": grid.street,
                    "community": grid.community,
                    "road": self.fake.street_name(),
                    "door_number": f"{self.rng.randint(1, 300)}号",
                    "building": f"{self.rng.randint(1, 20)}幢",
                    "unit_number": f"{self.rng.randint(1, 4)}单元",
                    "room": f"{self.rng.randint(1, 18)}0{self.rng.randint(1, 4)}室",
                    "grid_code": grid.grid_code,
                    "beat_code": grid.beat_code,
                    "longitude": round(118.75 + self.rng.random() / 10, 6),
                    "latitude": round(32.0 + self.rng.random() / 10, 6),
                }
            )
        grid_rows = [
            {
                "addressCode": a["address_code"],
                "areaCode": a["area_code"],
                "province": a["province"],
                "city": a["city"],
                "district": a["district"],
                "street": a["street"],
                "community": a["community"],
                "road": a["road"],
                "doorNo": a["door_number"],
                "building": a["building"],
                "unit": a["unit_number"],
                "room": a["room"],
                "gridCode": a["grid_code"],
                "policeBeat": a["beat_code"],
                "lng": a["longitude"],
                "lat": a["latitude"],
                "updatedAt": self.moment(n).isoformat(),
            }
            for n, a in enumerate(rows)
        ]
        self.world.grid["addresses"] = grid_rows
        self.break_rows("grid_platform", "addresses", grid_rows, "addressCode", _ADDRESS_DEFECTS)
        return rows

    def persons(self, addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        police, grid, declared = [], [], []
        for n in range(self.people):
            address = addresses[self.rng.randrange(len(addresses))]
            male = self.rng.random() < 0.5
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 80))
            household = self.rng.choices(("户籍", "流动", "境外"), (75, 24, 1))[0]
            area = address["area_code"] if household == "户籍" else self.rng.choice(BIRTHPLACES)
            person = {
                "id_number": citizen_id(self.rng, area, birth, male),
                "name": self.fake.name_male() if male else self.fake.name_female(),
                "sex": "1" if male else "2",
                "birth_date": birth,
                "ethnicity": self.rng.choice(ETHNICITIES),
                "phone": self.fake.phone_number(),
                "household_type": household,
                "address_code": address["address_code"],
                "house_code": "H" + address["address_code"],
                "grid_code": address["grid_code"],
                "beat_code": address["beat_code"],
                "police_tags": [self.rng.choice(TAGS)] if self.rng.random() < 0.03 else [],
            }
            self.world.people.append(person)
            updated = self.moment(n)
            if self.rng.random() < 0.85:
                police.append(
                    {
                        "RKID": f"R{n:08d}",
                        "SFZH": person["id_number"],
                        "XM": person["name"],
                        "XB": person["sex"],
                        "CSRQ": f"{birth:%Y%m%d}",
                        "MZ": person["ethnicity"],
                        "LXDH": person["phone"],
                        "HJLX": household,
                        "DZBM": person["address_code"],
                        "FWBM": person["house_code"],
                        "WGBM": person["grid_code"],
                        "JWQBM": person["beat_code"],
                        "ZDRYBQ": ",".join(person["police_tags"]),
                        "GXSJ": updated.replace(tzinfo=None),
                    }
                )
            if self.rng.random() < 0.75:
                moved = self.rng.random() < 0.1
                grid.append(
                    {
                        "id": 100000 + n,
                        "idCard": person["id_number"],
                        "name": person["name"],
                        "gender": "男" if male else "女",
                        "birthday": birth.isoformat(),
                        "nation": ETHNICITY_NAMES[person["ethnicity"]],
                        "mobile": self.fake.phone_number() if moved else person["phone"],
                        "residentType": household,
                        "addressCode": person["address_code"],
                        "houseCode": person["house_code"],
                        "gridCode": person["grid_code"],
                        "policeBeat": person["beat_code"],
                        "updatedAt": updated.isoformat(),
                    }
                )
            if household == "流动" and self.rng.random() < 0.3:
                declared.append(
                    {
                        "公民身份号码": person["id_number"],
                        "姓名": person["name"],
                        "性别": "男" if male else "女",
                        "出生日期": birth.isoformat(),
                        "民族": ETHNICITY_NAMES[person["ethnicity"]],
                        "联系电话": person["phone"],
                        "人口类型": household,
                        "居住地址编码": person["address_code"],
                        "网格编码": person["grid_code"],
                        "警务区编码": person["beat_code"],
                    }
                )
        self.world.police["t_rk_jbxx"] = police
        self.world.grid["residents"] = grid
        self.world.declarations["person_declarations"] = declared
        self.break_rows("police_db", "people", police, "RKID", _POLICE_PERSON_DEFECTS)
        self.break_rows("grid_platform", "residents", grid, "id", _GRID_PERSON_DEFECTS)
        self.break_rows("declarations", "people", declared, "公民身份号码", _DECLARED_DEFECTS)
        return self.world.people

    def houses(self, addresses: list[dict[str, Any]], persons: list[dict[str, Any]]) -> None:
        rows = []
        for n, address in enumerate(addresses):
            owner = persons[self.rng.randrange(len(persons))]
            rows.append(
                {
                    "FWBM": "H" + address["address_code"],
                    "DZBM": address["address_code"],
                    "FWYT": self.rng.choice(HOUSE_USES),
                    "CQRSFZH": owner["id_number"],
                    "CQRXM": owner["name"],
                    "JZRS": self.rng.randint(0, 6),
                    "WGBM": address["grid_code"],
                    "JWQBM": address["beat_code"],
                    "GXSJ": self.moment(n).replace(tzinfo=None),
                }
            )
        self.world.police["t_fw"] = rows
        self.break_rows("police_db", "houses", rows, "FWBM", _HOUSE_DEFECTS)

    def units(self, addresses: list[dict[str, Any]]) -> None:
        police, declared = [], []
        for n in range(max(self.people // 10, 10)):
            address = addresses[self.rng.randrange(len(addresses))]
            row = {
                "TYSHXYDM": credit_code(self.rng, address["area_code"]),
                "DWMC": self.fake.company(),
                "DWLX": self.rng.choice(UNIT_TYPES),
                "FDDBR": self.fake.name(),
                "LXDH": self.fake.phone_number(),
                "DZBM": address["address_code"],
                "ZDDW": 1 if self.rng.random() < 0.1 else 0,
                "WGBM": address["grid_code"],
                "JWQBM": address["beat_code"],
                "GXSJ": self.moment(n).replace(tzinfo=None),
            }
            police.append(row)
            if self.rng.random() < 0.4:
                declared.append(
                    {
                        "统一社会信用代码": row["TYSHXYDM"],
                        "单位名称": row["DWMC"],
                        "单位类型": row["DWLX"],
                        "法定代表人": row["FDDBR"],
                        "联系电话": row["LXDH"],
                        "标准地址编码": row["DZBM"],
                        "网格编码": row["WGBM"],
                        "警务区编码": row["JWQBM"],
                    }
                )
        self.world.police["t_dw"] = police
        self.world.declarations["unit_declarations"] = declared
        self.break_rows("police_db", "units", police, "TYSHXYDM", _UNIT_DEFECTS)
        self.break_rows(
            "declarations", "units", declared, "统一社会信用代码", _DECLARED_UNIT_DEFECTS
        )

    def incidents(self, addresses: list[dict[str, Any]], persons: list[dict[str, Any]]) -> None:
        events = []
        for n in range(max(self.people // 20, 10)):
            address = addresses[self.rng.randrange(len(addresses))]
            parties = self.rng.sample(persons, k=self.rng.randint(0, 2))
            events.append(
                {
                    "eventNo": f"E{n:07d}",
                    "type": self.rng.choice(INCIDENT_TYPES),
                    "reportedAt": self.moment(n).isoformat(),
                    "channel": self.rng.choice(("居民上报", "网格员巡查")),
                    "addressCode": address["address_code"],
                    "gridCode": address["grid_code"],
                    "policeBeat": address["beat_code"],
                    "parties": [p["id_number"] for p in parties],
                    "description": self.fake.sentence(nb_words=8),
                    "risk": self.rng.choice(("低", "低", "中", "高")),
                    "status": self.rng.choice(("待处置", "处置中", "已办结")),
                    "updatedAt": self.moment(n).isoformat(),
                }
            )
        self.world.grid["events"] = events
        self.break_rows("grid_platform", "events", events, "eventNo", _EVENT_DEFECTS)

    def break_registry(self) -> None:
        """Three police residents broken against the grid registry
        (``hub.reference.grids``): a grid it does not list, a beat it does not list, a
        listed grid with another grid's beat. None already broken, none duplicated."""
        rows = self.world.police["t_rk_jbxx"]
        broken = {d.source_key for d in self.world.defects if d.stream == "people"}
        clean = [r for r in rows if r["RKID"] not in broken and "D" + r["RKID"] not in broken]
        beats = sorted({g.beat_code for g in self.grids})
        for row, (name, expected) in zip(
            self.rng.sample(clean, k=len(_REGISTRY_DEFECTS)), _REGISTRY_DEFECTS, strict=True
        ):
            if name == "unknown_grid":
                row["WGBM"] = row["WGBM"][:-1] + "9"  # of the registry's structure, unlisted
            elif name == "unknown_beat":
                row["JWQBM"] = "B999999" + row["JWQBM"][-4:]
            else:
                row["JWQBM"] = next(b for b in beats if b != row["JWQBM"])
            self.world.defects.append(Defect("police_db", "people", row["RKID"], name, expected))

    def break_rows(
        self,
        source: str,
        stream: str,
        rows: list[dict[str, Any]],
        key: str,
        defects: dict[str, tuple[str, Any]],
    ) -> None:
        """Break ``broken_share`` of ``rows`` in place (duplicates are appended)."""
        count = max(len(defects), round(len(rows) * self.broken_share)) if rows else 0
        names = list(defects)
        for i, index in enumerate(self.rng.sample(range(len(rows)), k=min(count, len(rows)))):
            name = names[i % len(names)]
            expected, change = defects[name]
            row = rows[index]
            if name == "duplicate":
                copy = dict(row)
                copy[key] = change(row[key])
                for cursor in ("GXSJ", "updatedAt"):
                    if cursor in copy:
                        copy[cursor] = rows[-1][cursor]
                rows.append(copy)
                row = copy
            else:
                change(row)
            self.world.defects.append(Defect(source, stream, str(row[key]), name, expected))


def _set(column: str, value: Any) -> Any:
    def change(row: dict[str, Any]) -> None:
        row[column] = value

    return change


def _bad_check_digit(column: str, alphabet: str = "0123456789X") -> Any:
    def change(row: dict[str, Any]) -> None:
        number = row[column]
        others = alphabet.replace(number[-1], "")
        row[column] = number[:-1] + others[sum(map(ord, number)) % len(others)]

    return change


def _shift_date(column: str, fmt: str) -> Any:
    def change(row: dict[str, Any]) -> None:
        day = dt.datetime.strptime(row[column], fmt).date() + dt.timedelta(days=1)
        row[column] = day.strftime(fmt)

    return change


_POLICE_PERSON_DEFECTS = {
    "bad_check_digit": ("id_number:id_check_digit", _bad_check_digit("SFZH")),
    "birth_date_mismatch": ("birth_date:id_birth_date_mismatch", _shift_date("CSRQ", "%Y%m%d")),
    "unknown_code": ("ethnicity:unknown_code", _set("MZ", "99")),
    "missing_field": ("name:required", _set("XM", None)),
    "malformed_date": ("birth_date:date_format", _set("CSRQ", "19901345")),
    "duplicate": ("id_number:duplicate_key", lambda key: "D" + key),
}
_GRID_PERSON_DEFECTS = {
    "bad_check_digit": ("id_number:id_check_digit", _bad_check_digit("idCard")),
    "birth_date_mismatch": (
        "birth_date:id_birth_date_mismatch",
        _shift_date("birthday", "%Y-%m-%d"),
    ),
    "unknown_code": ("ethnicity:unknown_code", _set("nation", "火星族")),
    "missing_field": ("name:required", _set("name", "")),
    "malformed_date": ("birth_date:date_format", _set("birthday", "1990/13/45")),
    "duplicate": ("id_number:duplicate_key", lambda key: key + 900000),
}
_DECLARED_DEFECTS = {
    "bad_check_digit": ("id_number:id_check_digit", _bad_check_digit("公民身份号码")),
    "missing_field": ("name:required", _set("姓名", "")),
}
_ADDRESS_DEFECTS = {
    "unknown_code": ("area_code:area_code", _set("areaCode", "999999")),
    "missing_field": ("community:required", _set("community", None)),
}
_HOUSE_DEFECTS = {
    "unknown_code": ("use:value_set", _set("FWYT", "仓库")),
    "bad_check_digit": ("owner_id_number:id_check_digit", _bad_check_digit("CQRSFZH")),
}
_UNIT_DEFECTS = {
    "bad_check_digit": (
        "credit_code:credit_code_check_digit",
        _bad_check_digit("TYSHXYDM", ORG_CHARS),
    ),
    "missing_field": ("name:required", _set("DWMC", None)),
}
_DECLARED_UNIT_DEFECTS = {
    "bad_check_digit": (
        "credit_code:credit_code_check_digit",
        _bad_check_digit("统一社会信用代码", ORG_CHARS),
    ),
}
_REGISTRY_DEFECTS = (
    ("unknown_grid", "grid_code:unknown_grid"),
    ("unknown_beat", "beat_code:unknown_beat"),
    ("grid_beat_mismatch", "beat_code:grid_beat_mismatch"),
)
_EVENT_DEFECTS = {
    "malformed_date": ("reported_at:datetime_format", _set("reportedAt", "2026-11-31 25:00")),
    "unknown_code": ("incident_type:value_set", _set("type", "其他")),
}


def generate(
    people: int = 2000, seed: int = 7, broken_share: float = 0.04, registry_defects: bool = False
) -> World:
    """One world. ``registry_defects``: with rows broken against the world's grid registry
    (``hub.reference.grids``), for a hub that loads it (a hub without one stores them)."""
    return _Builder(people, seed, broken_share, registry_defects).build()
