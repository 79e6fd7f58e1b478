"""Browser tests of the console: Debian's Chromium driven headless through Selenium and Debian's chromedriver,
against the real stack (launcher, services, demo data) on free ports. Skipped, saying how to install
Chromium, when it is not there."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.api import Api

CHROMIUM = os.environ.get("CONSOLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CONSOLE_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).parent / "screenshots"
INSTALL_HINT = "install it with `apt-get update && apt-get install -y chromium chromium-driver` (Debian)"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1366,900", "--lang=zh-CN"]


def browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        return "the selenium package is missing (make .venv/.installed-stamp installs it)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found: {INSTALL_HINT}"
    return None


@dataclass
class Stack:
    gateway: str
    admin_password: str
    logins: dict[str, str]
    subsidy_dsn: str | None = None  # the subsidy database, for a test that needs a policy of its own

    def password(self, username: str) -> str:
        return self.admin_password if username == "admin" else self.logins[username]

    def api(self, username: str) -> Api:
        return Api.login(self.gateway, username, self.password(username))


class Console:
    """The console in one browser tab, with the waits a person does implicitly."""

    def __init__(self, driver, stack: Stack, downloads: Path):
        self.driver = driver
        self.stack = stack
        self.downloads = downloads

    def open(self, route: str = "") -> None:
        self.driver.get(f"{self.stack.gateway}/console/{'#/' + route if route else ''}")
        self.wait_ready()

    def goto(self, route: str, page: str | None = None) -> float:
        """Navigates inside the app; returns seconds until the page said it is ready."""
        start = time.monotonic()
        self.driver.execute_script("""
            document.body.dataset.state = 'loading';
            if (location.hash === arguments[0]) window.dispatchEvent(new HashChangeEvent('hashchange'));
            else location.hash = arguments[0];""", "#/" + route)
        self.wait_ready(page)
        return time.monotonic() - start

    def wait(self, condition, timeout: float = 60.0):
        from selenium.common.exceptions import StaleElementReferenceException  # noqa: PLC0415
        from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

        # A page re-renders its lists after an action: an element read mid-render is stale, so poll again.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)

    def wait_ready(self, page: str | None = None, timeout: float = 60.0) -> None:
        def ready(driver):
            state, current = driver.execute_script("return [document.body.dataset.state, document.body.dataset.page]")
            if state == "error":
                raise AssertionError(f"page {current} failed: {self.text('main')}")
            return state == "ready" and (page is None or current == page)

        self.wait(ready, timeout)

    def login(self, username: str, *, fresh: bool = False) -> None:
        """Signs in through the login form (once per user in a row: a signed-in user is kept unless `fresh`)."""
        signed_in = self.driver.current_url.startswith(self.stack.gateway) and self.session()
        if signed_in and not fresh and signed_in["claims"].get("preferred_username") == username:
            self.open()
            return
        self.logout_if_needed()
        if not self.all("#login-form"):
            self.open()
        for css, value in (("#username", username), ("#password", self.stack.password(username))):
            self.find(css).clear()
            self.find(css).send_keys(value)
        self.find("#login-button").click()
        self.wait(lambda d: d.execute_script("return document.body.dataset.page") != "login")
        self.wait_ready()

    def logout_if_needed(self) -> None:
        if self.driver.current_url.startswith(self.stack.gateway) and self.all("#logout"):
            self.find("#logout").click()
            self.wait_ready("login")

    def find(self, css: str):
        from selenium.webdriver.common.by import By  # noqa: PLC0415

        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css))

    def all(self, css: str) -> list:
        from selenium.webdriver.common.by import By  # noqa: PLC0415

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def session(self) -> dict:
        return json.loads(self.js("return sessionStorage.getItem('console.session')") or "null") or {}

    def chart(self, canvas_id: str) -> dict:
        """What Chart.js holds for a canvas and how many of its pixels are painted."""
        return self.js("""
            const canvas = document.getElementById(arguments[0]);
            if (!canvas) return null;
            const chart = Chart.getChart(canvas);
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return {datasets: chart ? chart.data.datasets.length : 0,
                    values: chart ? chart.data.datasets.flatMap(d => d.data) : [],
                    painted, width: canvas.width, height: canvas.height};
        """, canvas_id)

    def phone(self, on: bool) -> None:
        if on:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
        else:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def screenshot(self, name: str, *, full: bool = True) -> Path:
        """The whole page (not only the viewport) as PNG, into the git-ignored screenshots folder."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if full:
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True})
            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            self.driver.save_screenshot(str(path))
        return path

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def stack(request):
    """The session's demo stack (the e2e and security tests' too; the console's tests run after theirs, see
    tests/conftest.py), or a stack already running (`make run`) to iterate on the pages quickly."""
    missing = browser_missing()
    if missing:
        pytest.skip(f"browser tests skipped: {missing}")
    if os.environ.get("CONSOLE_GATEWAY"):
        state = Path(os.environ.get("SOCIALWORK_STATE_DIR", ".devstack"))
        return Stack(gateway=os.environ["CONSOLE_GATEWAY"],
                     admin_password=json.loads((state / "secrets.json").read_text())["GATEWAY_ADMIN_PASSWORD"],
                     logins=json.loads((state / "demo-logins.json").read_text()),
                     subsidy_dsn=os.environ.get("CONSOLE_SUBSIDY_DSN"))
    demo = request.getfixturevalue("demo_stack")
    return Stack(gateway=demo.gateway, admin_password=demo.admin_password, logins=dict(demo.logins),
                 subsidy_dsn=demo.dsn("subsidy"))


@pytest.fixture(scope="module")
def console(stack, tmp_path_factory):
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    profile = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield Console(driver, stack, downloads)
    finally:
        driver.quit()
