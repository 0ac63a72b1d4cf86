"""The reference world's grid registry, and the rows planted to break its rules.

Every community of the world (``world.grids``) has three grids: two basic ones and a
dedicated one (专属网格: a park, a school, a market ... in turn), coded
``G{county}{street:2}{village:2}{serial:1}`` over the community's 12-digit code (county,
street 00s, community 00s), each in its community's police beat. The rows planted to
break it are the world's (``generate(registry_defects=True)``).
"""

from __future__ import annotations

from hub.grids import BASIC, DEDICATED, Beat, Grid, GridRegistry, Structure
from hub.reference.world import grids

STRUCTURE = "G{county}{street:2}{village:2}{serial:1}"
_DEDICATED = ("园区", "学校", "商圈市场", "医院", "企事业单位")
_WORKERS = ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周婷")


def community_code(grid_code: str) -> str:
    """The 12-digit community code of a world grid code (``G`` + 6 + 2 + 2 + serial)."""
    return f"{grid_code[1:7]}0{grid_code[7:9]}0{grid_code[9:11]}"


def world_registry() -> GridRegistry:
    """The registry of every grid of the reference world."""
    found: list[Grid] = []
    beats: dict[str, Beat] = {}
    for n, g in enumerate(grids()):
        serial = int(g.grid_code[-1])
        dedicated = serial == 3
        community = g.community.removesuffix("社区")
        found.append(
            Grid(
                code=g.grid_code,
                name=f"{community}社区{_DEDICATED[n % 5] if dedicated else f'第{serial}'}网格",
                grid_type=DEDICATED if dedicated else BASIC,
                community_code=community_code(g.grid_code),
                beat_code=g.beat_code,
                category=_DEDICATED[n % 5] if dedicated else None,
                workers=(_WORKERS[n % len(_WORKERS)],),
            )
        )
        station = f"{g.street.removesuffix('街道')}派出所"
        beats.setdefault(g.beat_code, Beat(g.beat_code, f"{g.community}警格", station))
    return GridRegistry(
        tuple(found), tuple(beats.values()), Structure(STRUCTURE), "参考世界网格与警格"
    )
