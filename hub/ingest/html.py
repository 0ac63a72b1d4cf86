"""A sync run's report as one self-contained HTML page for the data steward.

The page has inline CSS only: no scripts, fonts, images or style sheets from elsewhere,
so it opens the same on a machine without network access and can be mailed as a file.
Every value from the report is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from contracts import UnknownKind, contract

_EXPECTATIONS = {
    "expect_column_values_to_not_be_null": "完整性（非空）",
    "expect_column_values_to_be_unique": "唯一性（同源自然键）",
    "expect_column_values_to_be_in_set": "值域",
    "expect_column_values_to_match_regex": "格式（GB 11643）",
    "expect_column_max_to_be_between": "时效性（最近更新）",
}

_RULES = {
    "required": "必填",
    "unknown_field": "未知字段",
    "pattern": "格式",
    "value_set": "值域",
    "unknown_code": "代码不在国家标准中",
    "duplicate_key": "同源自然键重复",
    "date_format": "日期格式",
    "datetime_format": "时间格式",
    "datetime_timezone": "缺少时区",
    "id_format": "身份号码格式",
    "id_check_digit": "身份号码校验位",
    "id_birth_date": "身份号码出生日期",
    "id_area_code": "身份号码行政区划",
    "id_birth_date_mismatch": "出生日期与身份号码不符",
    "id_sex_mismatch": "性别与身份号码不符",
    "area_code": "行政区划代码",
    "phone_format": "电话号码格式",
    "credit_code_format": "统一社会信用代码格式",
    "credit_code_check_digit": "统一社会信用代码校验位",
}

_PROVENANCE = {"last_updated": "最近更新时间", "natural_key": "自然键", "source_key": "来源主键"}

_COUNTS = (
    ("read", "读取"),
    ("inserted", "新增"),
    ("updated", "更新"),
    ("unchanged", "未变"),
    ("superseded", "被覆盖"),
    ("quarantined", "隔离"),
    ("deleted", "注销/删除"),
    ("deactivated", "失效"),
    ("reactivated", "恢复"),
)

_CSS = """
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
       margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin-top: 1.25rem; }
.meta { color: #57606a; margin: .15rem 0; }
.status { display: inline-block; padding: .2rem .6rem; border-radius: .3rem; font-weight: bold; }
.ok { background: #dafbe1; color: #116329; }
.bad { background: #ffebe9; color: #a40e26; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: .4rem; padding: .6rem 1rem; min-width: 7rem; }
.card .n { font-size: 1.4rem; font-weight: bold; }
.card .l { color: #57606a; font-size: .85rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.pass td.result { background: #dafbe1; color: #116329; font-weight: bold; }
tr.fail td { background: #fff5f5; }
tr.fail td.result { background: #ffebe9; color: #a40e26; font-weight: bold; }
tr.warn td.result { background: #fff8c5; color: #7d4e00; font-weight: bold; }
code { font-family: ui-monospace, "SFMono-Regular", Consolas, monospace; font-size: .85rem; }
.muted { color: #57606a; }
.error { color: #a40e26; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _time(value: Any) -> str:
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return _e(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
        return _e(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return _e(moment.strftime("%Y-%m-%d %H:%M:%S"))


def _duration(started: Any, finished: Any) -> str:
    try:
        seconds = (
            dt.datetime.fromisoformat(str(finished)) - dt.datetime.fromisoformat(str(started))
        ).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f"{seconds:.1f} s"


def _kind_label(kind: Any) -> str:
    try:
        return contract(str(kind)).label
    except UnknownKind:
        return ""


def _field_label(kind: Any, name: Any) -> str:
    try:
        specs = contract(str(kind)).specs()
    except UnknownKind:
        specs = ()
    found = next((spec.label for spec in specs if spec.name == name), None)
    return found or _PROVENANCE.get(str(name), "")


def _named(code: Any, label: str) -> str:
    """A code and, when known, its Chinese label."""
    if not label:
        return f"<code>{_e(code)}</code>"
    return f"<code>{_e(code)}</code> {_e(label)}"


def render_html(report: dict[str, Any]) -> str:
    """The run report (``RunReport.as_dict()`` or its saved JSON) as an HTML page."""
    streams: list[dict[str, Any]] = list(report.get("streams") or [])
    expectations: list[dict[str, Any]] = list(report.get("expectations") or [])
    failed = [e for e in expectations if not e.get("success")]
    sources: list[dict[str, Any]] = list(report.get("sources") or [])
    errors = [s for s in streams if s.get("error")]
    broken = [s for s in sources if s.get("error")]
    checks: dict[str, list[dict[str, Any]]] = dict(report.get("checks") or {})
    failing = [e for entries in checks.values() for e in entries if e.get("outcome") == "fail"]
    ok = not failed and not errors and not broken and not failing
    run_id = _e(report.get("run_id"))
    status = (
        '<span class="status ok">通过 OK</span>'
        if ok
        else f'<span class="status bad">需处理：{len(broken)} 个来源无法打开，'
        f"{len(errors)} 个数据流出错，{len(failed)} 项期望未通过，"
        f"{len(failing)} 项检查不合格</span>"
    )
    totals = report.get("totals") or {}
    cards = [
        ("读取 read", totals.get("read")),
        ("入库 stored", totals.get("stored")),
        ("隔离 quarantined", totals.get("quarantined")),
        ("期望通过 passed", len(expectations) - len(failed)),
        ("期望未通过 failed", len(failed)),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>同步校验报告 {run_id}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>数据同步校验报告 <code>{run_id}</code></h1>",
        f'<p class="meta">开始 started: {_time(report.get("started"))}'
        f" · 结束 finished: {_time(report.get('finished'))}"
        f" · 用时 {_e(_duration(report.get('started'), report.get('finished')))}</p>",
        f"<p>{status}</p>",
        '<div class="cards">',
        *(
            f'<div class="card"><div class="n">{_int(n)}</div><div class="l">{_e(label)}</div>'
            "</div>"
            for label, n in cards
        ),
        "</div>",
        _sources_table(broken),
        _streams_table(streams),
        _failures(streams),
        _expectations_table(expectations),
        _references_table(checks.get("references") or []),
        _freshness_table(checks.get("freshness") or []),
        _anomalies_table(checks.get("anomalies") or []),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _sources_table(broken: list[dict[str, Any]]) -> str:
    """The sources that could not be opened or list their streams: nothing of theirs was
    read, so they appear in no stream row."""
    if not broken:
        return ""
    rows = "".join(
        '<tr class="fail">'
        f"<td>{_e(s.get('source'))}</td><td><code>{_e(s.get('connector'))}</code></td>"
        f'<td class="error">{_e(s.get("error"))}</td></tr>'
        for s in broken
    )
    return (
        "<h2>无法打开的来源 Sources not read</h2>"
        "<table><thead><tr><th>来源<br><span class='muted'>source</span></th>"
        "<th>连接器<br><span class='muted'>connector</span></th>"
        "<th>错误<br><span class='muted'>error</span></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _streams_table(streams: list[dict[str, Any]]) -> str:
    if not streams:
        return '<h2>数据流 Streams</h2><p class="muted">本次未同步任何数据流。</p>'
    head = "".join(
        f"<th>{_e(label)}<br><span class='muted'>{_e(key)}</span></th>" for key, label in _COUNTS
    )
    rows = []
    for s in streams:
        counts = "".join(f'<td class="num">{_int(s.get(key))}</td>' for key, _ in _COUNTS)
        error = s.get("error")
        rows.append(
            f'<tr class="{"fail" if error else ""}">'
            f"<td>{_e(s.get('source'))}/{_e(s.get('stream'))}</td>"
            f"<td>{_named(s.get('kind'), _kind_label(s.get('kind')))}</td>"
            f"{counts}"
            f'<td class="error">{_e(error) if error else ""}</td>'
            "</tr>"
        )
    return (
        "<h2>数据流 Streams</h2>"
        "<table><thead><tr><th>来源/数据流<br><span class='muted'>source/stream</span></th>"
        "<th>类型<br><span class='muted'>kind</span></th>"
        f"{head}<th>错误<br><span class='muted'>error</span></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _failures(streams: list[dict[str, Any]]) -> str:
    sections = []
    for s in streams:
        failures: dict[str, Any] = s.get("failures") or {}
        if not failures:
            continue
        examples: dict[str, Any] = s.get("examples") or {}
        kind = s.get("kind")
        rows = []
        for name, count in failures.items():
            field_name, _, rule = str(name).rpartition(":")
            keys = ", ".join(_e(key) for key in examples.get(name) or [])
            rows.append(
                "<tr>"
                f"<td>{_named(field_name, _field_label(kind, field_name))}</td>"
                f"<td>{_named(rule, _RULES.get(rule, ''))}</td>"
                f'<td class="num">{_int(count)}</td>'
                f"<td><code>{keys}</code></td>"
                "</tr>"
            )
        sections.append(
            f"<h3>{_e(s.get('source'))}/{_e(s.get('stream'))} "
            f"<span class='muted'>{_e(_kind_label(kind))}</span></h3>"
            "<table><thead><tr><th>字段 field</th><th>规则 rule</th><th>行数 rows</th>"
            "<th>示例来源主键 example source keys</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    if not sections:
        return '<h2>隔离原因 Quarantine reasons</h2><p class="muted">没有行被隔离。</p>'
    return "<h2>隔离原因 Quarantine reasons</h2>" + "".join(sections)


def _observed(entry: dict[str, Any]) -> str:
    observed: dict[str, Any] = entry.get("observed") or {}
    if "observed_value" in observed:
        text = f"最新 {_time(observed.get('observed_value'))}"
        if observed.get("min_value"):
            text += f"<br><span class='muted'>要求不早于 {_time(observed.get('min_value'))}</span>"
        return text
    unexpected = observed.get("unexpected_count")
    total = observed.get("element_count")
    if unexpected is None and total is None:
        return '<span class="muted">—</span>'
    percent = observed.get("unexpected_percent")
    share = f" ({float(percent):.2f}%)" if isinstance(percent, int | float) else ""
    return f"{_int(unexpected)} / {_int(total)}{_e(share)}"


def _expectations_table(expectations: list[dict[str, Any]]) -> str:
    if not expectations:
        return '<h2>数据集期望 Expectations</h2><p class="muted">本次未运行数据集校验。</p>'
    rows = []
    for entry in sorted(expectations, key=lambda e: bool(e.get("success"))):
        success = bool(entry.get("success"))
        kind = entry.get("kind")
        column = entry.get("column")
        expectation = entry.get("expectation")
        examples = ", ".join(_e(v) for v in entry.get("examples") or [])
        keys = ", ".join(_e(v) for v in entry.get("source_keys") or [])
        details = []
        if examples:
            details.append(f"值 values: <code>{examples}</code>")
        if keys:
            details.append(f"来源主键 source keys: <code>{keys}</code>")
        if entry.get("error"):
            details.append(f'<span class="error">{_e(entry.get("error"))}</span>')
        rows.append(
            f'<tr class="{"pass" if success else "fail"}">'
            f'<td class="result">{"通过" if success else "未通过"}</td>'
            f"<td>{_e(entry.get('source'))}</td>"
            f"<td>{_named(kind, _kind_label(kind))}</td>"
            f"<td>{_named(column, _field_label(kind, column))}</td>"
            f"<td>{_e(_EXPECTATIONS.get(str(expectation), ''))}"
            f"<br><code class='muted'>{_e(expectation)}</code></td>"
            f'<td class="num">{_observed(entry)}</td>'
            f"<td>{'<br>'.join(details)}</td>"
            "</tr>"
        )
    return (
        "<h2>数据集期望 Expectations</h2>"
        "<table><thead><tr><th>结果 result</th><th>来源 source</th><th>类型 kind</th>"
        "<th>字段 column</th><th>期望 expectation</th><th>观测 observed</th>"
        "<th>示例 examples</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_OUTCOMES = {"ok": ("pass", "通过"), "warn": ("warn", "警告"), "fail": ("fail", "不合格")}
_STATUS = {"missing": "库中没有", "inactive": "仅有已注销记录"}


def _outcome(entry: dict[str, Any]) -> tuple[str, str]:
    """The row class and the result cell of a check entry."""
    css, label = _OUTCOMES.get(str(entry.get("outcome")), ("", str(entry.get("outcome"))))
    return (
        css,
        f'<td class="result">{_e(label)}<br>'
        f'<code class="muted">{_e(entry.get("outcome"))}</code></td>',
    )


def _table(title: str, head: list[str], rows: list[str], none: str) -> str:
    if not rows:
        return f'<h2>{_e(title)}</h2><p class="muted">{_e(none)}</p>'
    cells = "".join(f"<th>{_e(name)}</th>" for name in head)
    return (
        f"<h2>{_e(title)}</h2><table><thead><tr>{cells}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _references_table(entries: list[dict[str, Any]]) -> str:
    """Dangling references: the source keys of the records holding them, never a value."""
    rows = []
    for entry in sorted(entries, key=lambda e: -_int(e.get("dangling"))):
        css, result = _outcome(entry)
        kind, name = entry.get("kind"), entry.get("field")
        listed = entry.get("listed") or []
        keys = "<br>".join(
            f"<code>{_e(item.get('source_key'))}</code> → {_e(item.get('target'))}"
            f" {_e(_STATUS.get(str(item.get('status')), item.get('status')))}"
            for item in listed
        )
        more = _int(entry.get("dangling")) - len(listed)
        if more > 0:
            keys += f"<br><span class='muted'>另有 {more} 条 (and {more} more)</span>"
        rows.append(
            f'<tr class="{css}">{result}'
            f"<td>{_e(entry.get('source'))}/{_e(entry.get('stream'))}</td>"
            f"<td>{_named(kind, _kind_label(kind))}</td>"
            f"<td>{_named(name, _field_label(kind, name))}</td>"
            f"<td>{_named(entry.get('target'), _kind_label(entry.get('target')))}</td>"
            f'<td class="num">{_int(entry.get("dangling"))} / {_int(entry.get("checked"))}</td>'
            f"<td>{keys}</td></tr>"
        )
    head = [
        "结果 result",
        "来源/数据流 source/stream",
        "类型 kind",
        "字段 field",
        "指向 target",
        "悬空/检查 dangling/checked",
        "来源主键 source keys",
    ]
    return _table("跨类型引用 References", head, rows, "本次入库的记录没有跨类型引用。")


def _freshness_table(entries: list[dict[str, Any]]) -> str:
    rows = []
    for entry in sorted(entries, key=lambda e: not e.get("stale")):
        css, result = _outcome(entry)
        days = ", ".join(
            f"{_e(day)}: {_int(n)}" for day, n in (entry.get("rows_per_day") or {}).items()
        )
        gap = _int(entry.get("gap_seconds")) / 3600
        rows.append(
            f'<tr class="{css}">{result}'
            f"<td>{_e(entry.get('source'))}/{_e(entry.get('stream'))}</td>"
            f"<td>{_time(entry.get('last_sent'))}</td><td>{_time(entry.get('last_change'))}</td>"
            f'<td class="num">{gap:.1f} h{" 已过期 stale" if entry.get("stale") else ""}</td>'
            f"<td><code>{_e(entry.get('max_gap'))}</code></td>"
            f"<td>{days or '—'}</td></tr>"
        )
    head = [
        "结果 result",
        "来源/数据流 source/stream",
        "最近发送 last sent",
        "最近变更 last change",
        "间隔 gap",
        "允许 max_gap",
        "每日行数 rows per day",
    ]
    return _table("来源时效 Freshness", head, rows, "本次没有来源的运行记录。")


def _anomalies_table(entries: list[dict[str, Any]]) -> str:
    rows = []
    for entry in sorted(entries, key=lambda e: not e.get("flagged")):
        css, result = _outcome(entry)
        rows.append(
            f'<tr class="{css}">{result}'
            f"<td>{_e(entry.get('source'))}/{_e(entry.get('stream'))}</td>"
            f"<td><code>{_e(entry.get('metric'))}</code></td>"
            f'<td class="num">{_e(entry.get("value"))}</td>'
            f'<td class="num">{_e(entry.get("median"))} ({_int(entry.get("runs"))} 次 runs)</td>'
            f"<td><code>{_e(entry.get('rule'))}</code></td></tr>"
        )
    head = [
        "结果 result",
        "来源/数据流 source/stream",
        "指标 metric",
        "本次 value",
        "近期中位数 median",
        "规则 rule",
    ]
    return _table("异常波动 Anomalies", head, rows, "历史运行不足，未比较。")
