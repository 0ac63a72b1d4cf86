"""The merged view of a profile (一人一档): one value per field from the linked records of
every source, beside them, each with where and when it came from.

A field's value is the latest record's (by last change) that holds one, as the caller's
policy treats it (the same treated value the per-source view shows); ``disagree`` says the
linked records hold different values of it. It is judged on the stored values, not the
treated ones: two phones masked alike may still differ, and the flag must say so. The
flag tells only that they differ, of a field the caller is served anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hub.store.query import FoundRow


def merged_view(rows: Sequence[FoundRow], views: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Field -> ``{value, source, updated, disagree}`` over ``rows`` (the linked records,
    read with the fields the decision serves) and ``views`` (the caller's view of each,
    ``Sharing.view``, in the same order). A field no record holds has value None."""
    pairs = sorted(zip(rows, views, strict=True), key=lambda p: p[0].last_updated, reverse=True)
    names = list(views[0]["record"]) if views else []
    merged: dict[str, Any] = {}
    for name in names:
        held = [(row, view) for row, view in pairs if row.values.get(name) not in (None, [])]
        distinct = {json.dumps(row.values[name], sort_keys=True, default=str) for row, _v in held}
        if not held:
            merged[name] = {"value": None, "source": None, "updated": None, "disagree": False}
            continue
        _row, view = held[0]
        merged[name] = {
            "value": view["record"][name],
            "source": view["source"],
            "updated": view["updated"],
            "disagree": len(distinct) > 1,
        }
    return merged
