"""The pages in a real browser (Debian's headless chromium): a steward finds a
quarantined row by its rule, fixes it, re-submits it and sees it stored, and the audit log
holds the view and the change as that steward's; an auditor finds who accessed a person by
ID number, reads the sharing matrix and compares two versions of a policy; neither
reaches the other's pages. A screenshot of each page is kept under the test's tmp folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from hub.audit import AuditEvent, AuditLog
from hub.audit.patterns import AlertThresholds
from hub.config import open_store
from tests.web.browser import Pages, chromium
from tests.web.conftest import ORDERS_GRID, PASSWORD, ConsoleHub

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RULE = "id_birth_date_mismatch"
THRESHOLDS = AlertThresholds()
"""The hub's defaults: the fixture's hub sets none."""


def _bar_titles(pages: Pages, chart: str) -> list[str]:
    """The tooltips of a chart's bars that have a height (one per value drawn)."""
    svg = pages.driver.find_element(By.ID, chart)
    return [
        str(bar.get_attribute("textContent"))
        for bar in svg.find_elements(By.CSS_SELECTOR, "rect")
        if bar.find_elements(By.TAG_NAME, "title")
    ]


@pytest.fixture
def pages(console_hub: ConsoleHub, tmp_path: Path) -> Iterator[Pages]:
    with chromium(tmp_path) as driver:
        yield Pages(driver, console_hub.url, tmp_path / "screenshots")


def test_a_steward_finds_a_row_by_rule_fixes_it_and_sees_it_stored(
    console_hub: ConsoleHub, pages: Pages
) -> None:
    key = "Q0"
    entry = console_hub.quarantined[key]
    person = console_hub.people[30]
    pages.sign_in("steward", PASSWORD)
    assert "您好，steward" in pages.text()
    pages.shot("steward-home")

    pages.go("/console/quarantine")
    rule = Select(pages.driver.find_element(By.ID, "rule"))
    [choice] = [o.get_attribute("value") for o in rule.options if RULE in o.text]
    rule.select_by_value(str(choice))
    pages.click("filter")
    listed = pages.driver.find_elements(By.CSS_SELECTOR, "#entries tbody tr")
    assert len(listed) == len(console_hub.quarantined)
    assert person.name not in pages.text()  # the listing decrypts nothing
    assert _bar_titles(pages, "rule-chart") == [f"birth_date:{RULE} 条目数：3 条"]
    pages.shot("steward-quarantine-by-rule")

    reads = len(console_hub.events("quarantine.read"))
    pages.click(f"open-{entry}")
    shown = pages.driver.find_element(By.ID, "col-name").get_attribute("value")
    assert shown == person.name  # the row in clear, for the steward
    [read] = console_hub.events("quarantine.read")[reads:]
    assert (read.subject, read.record_ids) == ("console:steward", [f"quarantine:{entry}"])
    pages.shot("steward-entry")

    pages.type("col-birth_date", person.birth_date.isoformat())
    pages.click("resubmit")
    assert "已修正并入库" in pages.text("#result")
    pages.shot("steward-entry-stored")

    assert console_hub.entry_status(entry) == "resolved"
    stored = console_hub.stored_person(key)
    assert stored is not None
    assert stored.birth_date == person.birth_date
    [change] = [
        e
        for e in console_hub.events("quarantine.resubmit")
        if e.record_ids == [f"quarantine:{entry}"]
    ]
    assert change.subject == "console:steward"
    assert (change.detail["result"], change.detail["set"]) == ("stored", ["birth_date"])
    assert person.birth_date.isoformat() not in repr(change)

    pages.go("/console/runs")
    assert console_hub.run_id in pages.text()
    assert "partner:cl_grid 隔离" in pages.driver.find_element(By.ID, "sync-chart").text
    assert any(t.endswith("：3 行") for t in _bar_titles(pages, "sync-chart"))
    pages.shot("steward-runs")
    pages.driver.find_element(By.LINK_TEXT, "校验报告").click()
    assert console_hub.run_id in pages.driver.page_source
    [read] = [e for e in console_hub.events("report.read") if e.subject == "console:steward"]
    assert read.detail == {"run_id": console_hub.run_id}
    pages.shot("steward-report")
    pages.go("/console/audit")
    assert "无权访问" in pages.text()
    pages.shot("steward-refused-audit")


def test_an_auditor_finds_who_accessed_a_person_and_reads_the_policies(
    console_hub: ConsoleHub, pages: Pages
) -> None:
    pages.sign_in("auditor", PASSWORD)
    pages.go("/console/audit/subject")
    pages.type("id_number", console_hub.read_person.id_number)
    pages.click("subject-search")
    rows = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "table.entries tbody tr")
    ]
    readers = {(row[2], row[4]) for row in rows}
    assert ("records.query", console_hub.police_client) in readers
    assert console_hub.read_person.id_number not in pages.driver.page_source
    asked = console_hub.events("audit.subject")[-1]
    assert asked.subject == "console:auditor"
    assert asked.filters["id_number"].startswith("bidx:")
    pages.shot("auditor-subject-access")

    pages.go("/console/sharing")
    heads = [th.text for th in pages.driver.find_elements(By.CSS_SELECTOR, "#matrix thead th")]
    cells = {}
    for row in pages.driver.find_elements(By.CSS_SELECTOR, "#matrix tbody tr"):
        texts = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        kind = texts[0].split(" ")[0]
        cells[f"{kind}.{texts[1]}"] = dict(zip(heads[3:], texts[3:], strict=True))
    assert cells["person.id_number"]["police-station@v3"] == "allow"
    assert cells["person.id_number"]["grid-platform@v4"] == "mask"
    assert cells["person.phone"]["grid-platform@v4"] == "—"
    pages.shot("auditor-sharing-matrix")

    pages.go("/console/policies/grid-platform")
    Select(pages.driver.find_element(By.ID, "before")).select_by_value("3")
    Select(pages.driver.find_element(By.ID, "after")).select_by_value("4")
    pages.click("compare")
    changed = {
        tuple(td.text.split(" ")[0] for td in row.find_elements(By.TAG_NAME, "td"))
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "#diff tbody tr")
    }
    assert changed == {
        ("person", "fields.birth_date", "year_only", "allow", "放宽", ""),
        ("person", "fields.phone", "mask", "deny", "收紧", ""),
    }
    pages.shot("auditor-policy-diff")

    pages.go("/console/audit/integrity")
    pages.click("verify")
    assert "完整" in pages.text("#last-verify")
    pages.shot("auditor-integrity")

    pages.go(f"/console/audit?client={console_hub.police_client}")
    assert "records.query" in pages.text()
    pages.shot("auditor-search")

    pages.go("/console/quarantine")
    assert "无权访问" in pages.text()
    pages.shot("auditor-refused-quarantine")


def test_a_steward_reviews_grid_submissions_into_the_record(
    console_hub: ConsoleHub, pages: Pages
) -> None:
    accepted, rejected = console_hub.submitted["S0"], console_hub.submitted["S1"]
    pages.sign_in("steward", PASSWORD)
    pages.go("/console/reviews")
    listed = pages.text("#reviews")
    assert accepted.name in listed
    assert rejected.name in listed
    assert console_hub.read_person.name not in listed  # stored records are not submissions
    pages.shot("steward-reviews")

    pages.go(f"/console/reviews/person/{console_hub.review_ref('S0')}")
    assert accepted.id_number in pages.text("#record")  # the police station reads it in clear
    pages.shot("steward-review")
    pages.click("accept")
    assert "已通过并入库" in pages.text("#result")
    pages.shot("steward-review-accepted")
    assert console_hub.review_status("S0") == ("accepted", "console:steward", None)
    stored = console_hub.stored_person("S0", f"partner:{console_hub.grid_client}")
    assert stored is not None
    assert stored.id_number == accepted.id_number
    [decided] = [
        e for e in console_hub.events("reviews.decide") if e.detail.get("decision") == "accepted"
    ]
    assert (decided.subject, decided.client_id) == ("console:steward", console_hub.police_client)

    pages.go(f"/console/reviews/person/{console_hub.review_ref('S1')}")
    pages.click("reject")  # no reason: refused, still pending
    assert "驳回须填写理由" in pages.text("#result")
    assert console_hub.review_status("S1")[0] == "pending"
    pages.type("reason", "住址与走访核实不符")
    pages.click("reject")
    assert "已驳回" in pages.text("#result")
    pages.shot("steward-review-rejected")
    assert console_hub.review_status("S1") == ("rejected", "console:steward", "住址与走访核实不符")
    assert console_hub.stored_person("S1", f"partner:{console_hub.grid_client}") is None
    refused = [e for e in console_hub.events("reviews.decide") if e.outcome == "denied"]
    assert [(e.subject, e.detail["reason"]) for e in refused] == [
        ("console:steward", "reason_required")
    ]


def test_a_steward_exports_one_rule_s_rows_corrects_them_offline_and_imports_them(
    console_hub: ConsoleHub, pages: Pages, tmp_path: Path
) -> None:
    open_keys = [
        k for k, e in console_hub.quarantined.items() if console_hub.entry_status(e) == "open"
    ]
    fixed, formula = open_keys[0], open_keys[1]
    by_key = {f"Q{n}": p for n, p in enumerate(console_hub.people[30:33])}
    pages.sign_in("steward", PASSWORD)
    pages.go("/console/quarantine")
    Select(pages.driver.find_element(By.ID, "rule")).select_by_value(f"birth_date:{RULE}")
    pages.click("filter")
    pages.shot("steward-quarantine-export")
    reads = len(console_hub.events("quarantine.read"))
    pages.driver.find_element(By.ID, "export").click()
    path = pages.downloaded(tmp_path, "quarantine-*.xlsx")
    [read] = console_hub.events("quarantine.read")[reads:]
    assert (read.subject, read.detail["page"]) == ("console:steward", "quarantine/export")
    assert sorted(read.record_ids) == sorted(
        f"quarantine:{console_hub.quarantined[k]}" for k in open_keys
    )

    book = load_workbook(path)
    sheet = book["隔离数据"]
    heads = [c.value for c in sheet[1]]
    rows = {row[heads.index("source_key")].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == set(open_keys)
    assert rows[fixed][heads.index("id_number")].value == by_key[fixed].id_number  # text, whole
    rows[fixed][heads.index("birth_date")].value = by_key[fixed].birth_date.isoformat()
    rows[formula][heads.index("birth_date")].value = "=TODAY()"
    edited = tmp_path / "corrected.xlsx"
    book.save(edited)

    pages.go("/console/quarantine")
    pages.driver.find_element(By.ID, "workbook").send_keys(str(edited))
    pages.click("import")
    pages.shot("steward-quarantine-imported")
    assert "入库 1 行" in pages.text("#summary")
    assert "含公式" in pages.text("#imported")
    assert console_hub.entry_status(console_hub.quarantined[fixed]) == "resolved"
    assert console_hub.entry_status(console_hub.quarantined[formula]) == "open"
    stored = console_hub.stored_person(fixed)
    assert stored is not None
    assert stored.birth_date == by_key[fixed].birth_date
    [change] = [
        e
        for e in console_hub.events("quarantine.resubmit")
        if e.record_ids == [f"quarantine:{console_hub.quarantined[fixed]}"]
    ]
    assert (change.subject, change.detail["set"]) == ("console:steward", ["birth_date"])
    [imported] = console_hub.events("quarantine.import")
    assert imported.detail["stored"] == 1
    # Open rows left as exported (when this test runs before the others resolve some) are
    # refused as unchanged.
    assert imported.detail["reasons"] == ["formula"] + (["unchanged"] if len(open_keys) > 2 else [])


def test_a_system_admin_sees_syncs_clients_and_overdue_orders(
    console_hub: ConsoleHub, pages: Pages
) -> None:
    pages.sign_in("sysadmin", PASSWORD)
    pages.go("/console/operations")
    pages.shot("sysadmin-operations")
    streams = {
        tuple(td.text.split()[0] for td in row.find_elements(By.TAG_NAME, "td")[:2]): row.text
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "#streams tbody tr")
    }
    lag = re.search(r"(\d+) 分钟", streams[("grid_platform", "people")])
    assert lag, streams
    assert 30 <= int(lag.group(1)) < 120  # synced half an hour before the fixture was made
    assert "connection refused" in streams[("police_db", "persons")]
    assert "从未成功" in streams[("police_db", "persons")]
    clients = {
        row.find_elements(By.TAG_NAME, "td")[1].text: row.text
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "#clients tbody tr")
    }
    assert "police-station@v3" in clients[console_hub.police_client]
    assert "person.review" in clients[console_hub.police_client]
    assert "从未" not in clients[console_hub.police_client]  # it took a token
    [grid] = [
        [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "#orders tbody tr")
    ]
    assert grid[:4] == [ORDERS_GRID, "2", "2", "1"]
    # Signed within the hour; none closed yet: no bar, not a zero.
    assert _bar_titles(pages, "cycle-chart") == [f"{ORDERS_GRID} 签收用时：1 小时"]
    assert console_hub.police_client in pages.text()
    pages.go("/console/quarantine")
    assert "无权访问" in pages.text()


def test_an_auditor_sees_access_alerts_and_the_entries_behind_them(
    console_hub: ConsoleHub, pages: Pages
) -> None:
    store = open_store(console_hub.config)
    try:
        log = AuditLog.for_store(store)
        planted = [
            log.append(AuditEvent(action="records.query", outcome="denied", client_id="cl_probe"))
            for _ in range(THRESHOLDS.refusals)
        ]
    finally:
        store.close()
    pages.sign_in("auditor", PASSWORD)
    pages.go("/console/audit/alerts")
    rows = pages.driver.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")
    found = {
        (r.get_attribute("data-pattern"), r.find_elements(By.TAG_NAME, "td")[1].text) for r in rows
    }
    assert found == {("refusals", "cl_probe")}  # the fixture's own reads raise nothing
    pages.shot("auditor-alerts")
    reads = [
        t for t in _bar_titles(pages, "access-chart") if t.startswith(console_hub.police_client)
    ]
    assert any(t.endswith("：1 次") for t in reads)  # the fixture's one query
    looked = console_hub.events("audit.alerts")[-1]
    assert (looked.subject, looked.detail) == ("console:auditor", {"alerts": {"refusals": 1}})
    rows[0].find_element(By.CLASS_NAME, "alert-entries").click()
    shown = [
        int(row.find_element(By.TAG_NAME, "td").text)
        for row in pages.driver.find_elements(By.CSS_SELECTOR, "table.entries tbody tr")
    ]
    assert shown == planted
    pages.shot("auditor-alert-entries")
    with httpx.Client(base_url=console_hub.url) as http:
        scraped = http.get("/metrics").text
    assert 'hub_access_alerts{pattern="refusals"} 1.0' in scraped
    assert 'hub_access_alerts{pattern="night"} 0.0' in scraped
