"""The pages in a real browser (Debian's headless chromium): a steward finds a
quarantined row by its rule, fixes it, re-submits it and sees it stored, and the audit log
holds the view and the change as that steward's; an auditor finds who accessed a person by
ID number, reads the sharing matrix and compares two versions of a policy; neither
reaches the other's pages. A screenshot of each page is kept under the test's tmp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.web.browser import Pages, chromium
from tests.web.conftest import PASSWORD, ConsoleHub

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RULE = "id_birth_date_mismatch"


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
