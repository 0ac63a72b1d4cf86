"""The server-drawn charts: bars in proportion to their values, every label escaped."""

from __future__ import annotations

import re

from hub.web.charts import grouped_bars, horizontal_bars

HOSTILE = '<script>alert("x")</script>'


def _heights(svg: str) -> list[float]:
    return [
        float(h)
        for h in re.findall(
            r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="[^"]+"><title>', svg
        )
    ]


def test_bars_are_in_proportion_and_labels_are_escaped() -> None:
    svg = str(
        grouped_bars(
            HOSTILE, ["一", HOSTILE], [(HOSTILE, [2.0, 4.0]), ("b", [1.0, 0.0])], "行", "c"
        )
    )
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    # Category by category, a bar per series: 2 and 1, then 4 and 0.
    two, one, four, zero = _heights(svg)
    assert four == 2 * two
    assert two == 2 * one
    assert zero == 0


def test_a_missing_value_is_a_dash_not_a_zero_bar() -> None:
    svg = str(horizontal_bars("t", [(HOSTILE, [3.0, None])], ["甲", "乙"], "小时", "h"))
    assert "<script" not in svg
    assert svg.count("<title>") == 1
    assert ">—</text>" in svg


def test_small_counts_get_whole_ticks() -> None:
    svg = str(grouped_bars("t", ["一"], [("a", [1.0])], "次", "c"))
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["0", "1", "2", "3", "4", "5"]
