"""GB/T 2260 administrative area codes (行政区划代码), from the table python-stdnum ships.

python-stdnum keeps every county code with the years it was in use (``[1983-]秦淮区``);
the citizen-ID check uses the same table, so an address and an ID number agree on what
an area code is.
"""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum import numdb

_RANGE = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


@lru_cache(maxsize=4096)
def area_name(code: str, year: int | None = None, *, since: bool = False) -> str | None:
    """The county-level name of a six-digit area code in use in ``year`` (default: now).

    With ``since``, a code in use at any time from ``year`` on counts: the area code of an
    ID number is assigned at registration, which for people born before 1984 (and for
    areas created later) is years after the birth year.

    Returns None for a code the table does not hold or that was not in use that year.
    """
    if len(code) != 6 or not code.isdigit():
        return None
    parts = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    if "province" not in parts or "county" not in parts:
        return None
    for candidate in parts["county"].split(","):
        match = _RANGE.match(candidate)
        if match is None:
            return f"{parts['province']}{candidate}"
        start, end, name = match.groups()
        if year is None:
            if not end:
                return f"{parts['province']}{name}"
        elif (not start or since or int(start) <= year) and (not end or year <= int(end)):
            return f"{parts['province']}{name}"
    return None
