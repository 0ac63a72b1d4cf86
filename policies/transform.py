"""Field treatments applied to values the policy lets a partner see."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from policies.model import Treatment

_KEEP = ((1, 0, 0), (2, 1, 0), (4, 1, 1), (7, 2, 1), (11, 3, 4))
"""(longest length, characters kept at the head, at the tail). Longer values (ID numbers,
credit codes) keep their first 6 characters, the area code, and nothing else: with the
birth year and sex a policy may also serve, 6 + 4 digits of an ID number left about 33
candidates, and the same masked value for every partner, a key to join on."""


def mask(value: str) -> str:
    """Keep enough to recognise, not enough to use: 320104************, 138****5678, 张*伟.

    The one mask of the hub: partners' views and stewards' reports alike."""
    head, tail = next(((h, t) for n, h, t in _KEEP if len(value) <= n), (6, 0))
    hidden = len(value) - head - tail
    return value[:head] + "*" * hidden + (value[-tail:] if tail else "")


def pseudonym(value: str, key: bytes) -> str:
    """A keyed pseudonym; the hub gives each partner its own key."""
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()[:24]


def treat(value: Any, treatment: Treatment, key: bytes) -> Any:
    if value is None or treatment is Treatment.ALLOW:
        return value
    if isinstance(value, list):
        return [treat(item, treatment, key) for item in value]
    if treatment is Treatment.MASK:
        return mask(str(value))
    if treatment is Treatment.HASH:
        return pseudonym(str(value), key)
    if treatment is Treatment.YEAR_ONLY:
        return value.year if isinstance(value, dt.date) else int(str(value)[:4])
    raise ValueError(f"{treatment.value} values are never served")
