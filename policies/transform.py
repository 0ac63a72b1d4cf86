"""Field treatments applied to values the policy lets a partner see."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policies.model import Treatment

_KEEP = ((1, 0, 0), (2, 1, 0), (4, 1, 1), (7, 2, 1), (11, 3, 4))
"""(longest length, characters kept at the head, at the tail). Longer values (ID numbers,
credit codes) keep their first 6 characters, the area code, and nothing else: with the
birth year and sex a policy may also serve, 6 + 4 digits of an ID number left about 33
candidates, and the same masked value for every partner, a key to join on."""


def _cut(length: int) -> tuple[int, int]:
    return next(((h, t) for n, h, t in _KEEP if length <= n), (6, 0))


_CUTS = tuple(_cut(n) for n in range(_KEEP[-1][0] + 1))


def mask(value: str) -> str:
    """Keep enough to recognise, not enough to use: 320104************, 138****5678, 张*伟.

    The one mask of the hub: partners' views and stewards' reports alike."""
    head, tail = _CUTS[len(value)] if len(value) < len(_CUTS) else (6, 0)
    hidden = len(value) - head - tail
    return value[:head] + "*" * hidden + (value[-tail:] if tail else "")


@dataclass(frozen=True, slots=True)
class PseudonymKey:
    """A partner's pseudonym key and the hash its HMAC runs on (``sha256``, or ``sm3``
    under the national suite); the hub gives each partner its own key."""

    secret: bytes = field(repr=False)
    hash_name: str = "sha256"


def pseudonym(value: str, key: bytes | PseudonymKey) -> str:
    """A keyed pseudonym: HMAC of the normalised value (bare bytes: HMAC-SHA256)."""
    if isinstance(key, PseudonymKey):
        secret, hash_name = key.secret, key.hash_name
    else:
        secret, hash_name = key, "sha256"
    return hmac.new(secret, value.strip().upper().encode(), hash_name).hexdigest()[:24]


def _year(value: Any) -> int:
    return value.year if isinstance(value, dt.date) else int(str(value)[:4])


def _never(value: Any, treatment: Treatment) -> Any:
    raise ValueError(f"{treatment.value} values are never served")


Treat = Callable[[Any, "bytes | PseudonymKey"], Any]
"""A treatment of a value that is not None, given the partner's pseudonym key."""


def _one(treatment: Treatment) -> Treat:
    if treatment is Treatment.ALLOW:
        return lambda value, _key: value
    if treatment is Treatment.MASK:
        return lambda value, _key: mask(str(value))
    if treatment is Treatment.HASH:
        return lambda value, key: pseudonym(str(value), key)
    if treatment is Treatment.YEAR_ONLY:
        return lambda value, _key: _year(value)
    return lambda value, _key: _never(value, treatment)


def treater(treatment: Treatment) -> Treat:
    """``treatment`` as a function, chosen once (a decision applies it to every record of
    a page); a list is treated item by item."""
    one = _ONE[treatment]
    if treatment is Treatment.ALLOW:
        return one

    def treated(value: Any, key: bytes | PseudonymKey) -> Any:
        if isinstance(value, list):
            return [None if item is None else treated(item, key) for item in value]
        return one(value, key)

    return treated


_ONE = {treatment: _one(treatment) for treatment in Treatment}
_TREATERS = {treatment: treater(treatment) for treatment in Treatment}


def treat(value: Any, treatment: Treatment, key: bytes) -> Any:
    if value is None:
        return None
    return _TREATERS[treatment](value, key)
