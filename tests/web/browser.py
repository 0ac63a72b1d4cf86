"""A headless Debian chromium driven by selenium through Debian's chromedriver: nothing
is downloaded at test time (``.ci/run`` installs both with apt-get)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def chromium(downloads: Path) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (see .ci/run)")
        pytest.skip("browser tests need Debian's chromium and chromium-driver")
    # Selenium Manager is never asked for a driver or a browser: both paths are given, and
    # offline it could not download one anyway.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,900",
        "--lang=zh-CN",
        f"--user-data-dir={downloads / 'profile'}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(downloads / "profile", ignore_errors=True)


def _gone(element: WebElement) -> bool:
    """``element``'s document has been replaced. Chromium answers an element of a document
    it has just dropped either as stale or, mid-navigation, with an inspector error
    ("does not belong to the document"): both mean the old page is gone."""
    try:
        return bool(staleness_of(element)(None))
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise


class Pages:
    """One browser on the console: sign in, go to a page, fill a form, keep a screenshot."""

    def __init__(self, driver: webdriver.Chrome, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def go(self, path: str) -> None:
        self.driver.get(f"{self.base}{path}")

    def sign_in(self, name: str, password: str) -> None:
        self.go("/console/sign-in")
        self.type("name", name)
        self.type("password", password)
        self.click("sign-in")

    def type(self, element_id: str, text: str) -> None:
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def click(self, element_id: str) -> None:
        """Click and wait for the page it loads: rows of the old page are never read."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.ID, element_id).click()
        WebDriverWait(self.driver, 20).until(lambda _: _gone(old))
        WebDriverWait(self.driver, 20).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def downloaded(self, folder: Path, pattern: str, timeout: float = 20) -> Path:
        """The file a click downloaded into ``folder``, once complete."""
        found: list[Path] = []

        def done(_: object) -> bool:
            found[:] = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
            return bool(found)

        WebDriverWait(self.driver, timeout).until(done)
        return found[0]

    def text(self, css: str = "main") -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        height = self.driver.execute_script("return document.body.scrollHeight")
        self.driver.set_window_size(1360, max(900, min(int(height) + 40, 4000)))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1360, 900)
        return path
