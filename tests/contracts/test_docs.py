"""/docs and /redoc work offline in a real browser (Debian's Chromium, driven by Playwright).

They show every operation, and Swagger UI's Authorize button gets tokens from /auth/token with the password
and the client-credentials flows, which the calls made from the page then carry.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.gateway.conftest import ADMIN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed: apt-get update && apt-get install -y chromium")
# No downloads of a browser of Playwright's own: the system's Chromium, kept off the network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000  # a busy 2-core machine parses 1.5 MB of Swagger UI slowly


@pytest.fixture(scope="module")
async def browser(tmp_path_factory):
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=CHROMIUM, args=FLAGS, headless=True)
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        await context.close()


def operation_ids(spec: dict) -> set[str]:
    return {op["operationId"] for item in spec["paths"].values() for op in item.values()}


async def test_docs_pages_load_nothing_from_outside(platform):
    client = platform["client"]
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert sources and all(s.startswith("/") for s in sources), (page, sources)
        for source in sources:
            response = await client.get(source)
            assert response.status_code == 200 and len(response.content) > 1000, source
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()


@needs_chromium
async def test_swagger_ui_shows_every_operation_and_authorizes_with_both_flows(platform, browser):
    page = await browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((platform["url"], "data:")) else outside.append(r.url))
    await page.goto(f"{platform['url']}/docs")
    await page.wait_for_selector(".opblock-summary-operation-id")
    shown = set(await page.locator(".opblock-summary-operation-id").all_inner_texts())
    ids = operation_ids(platform["spec"])
    assert sorted(ids - shown) == [] and len(ids) > 70
    locks = dict(await page.locator(".opblock").evaluate_all("""blocks => blocks.map(b => [
        b.querySelector('.opblock-summary-operation-id').textContent, !!b.querySelector('.authorization__btn')])"""))
    protected = {op["operationId"] for item in platform["spec"]["paths"].values() for op in item.values()
                 if "security" in op}
    assert {i for i, lock in locks.items() if lock} == protected  # a lock on every protected operation only

    # Password flow, as a person would.
    await page.click("button.btn.authorize")
    password = page.locator(".auth-container", has_text="Flow: password")
    await password.locator("input[data-name=username]").fill(ADMIN[0])
    await password.locator("input[data-name=password]").fill(ADMIN[1])
    await password.locator("button.authorize").click()
    await password.locator("button", has_text="Logout").wait_for()
    await page.click(".dialog-ux .close-modal")
    principal = await _call_from_the_page(page, platform)
    assert principal.subject and "bureau_admin" in principal.roles and principal.client_id is None

    # Client-credentials flow, for an HR system the admin has just registered.
    token = (await platform["client"].post("/auth/token", data={
        "grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
    created = await platform["client"].post("/auth/clients", json={"client_id": "hr-docs", "kind": "hr_system"},
                                            headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    await page.click("button.btn.authorize")
    await password.locator("button", has_text="Logout").click()
    credentials = page.locator(".auth-container", has_text="Flow: clientCredentials")
    await credentials.locator("input[data-name=clientId]").fill("hr-docs")
    await credentials.locator("input[data-name=clientSecret]").fill(created.json()["client_secret"])
    await credentials.locator("button.authorize").click()
    await credentials.locator("button", has_text="Logout").wait_for()
    await page.click(".dialog-ux .close-modal")
    principal = await _call_from_the_page(page, platform)
    assert principal.client_id == "hr-docs" and principal.roles == {"hr_system"}
    assert outside == []
    await page.close()


async def _call_from_the_page(page, platform):
    """Try out GET /registry/v1/stats from Swagger UI; returns who the token it sent says the caller is."""
    operation = page.locator(".opblock", has=page.locator(".opblock-summary-operation-id",
                                                          has_text=re.compile(r"^registry_\w*stats\w*$")))
    if not await operation.locator(".try-out__btn").is_visible():
        await operation.locator(".opblock-summary").click()
    if await operation.locator("button.try-out__btn", has_text="Try it out").count():
        await operation.locator("button.try-out__btn").click()
    async with page.expect_request(lambda r: r.url.endswith("/registry/v1/stats")) as request:
        await operation.locator("button.execute").click()
    scheme, _, token = ((await request.value).headers.get("authorization") or "").partition(" ")
    assert scheme == "Bearer", scheme
    return await platform["app"].state.verifier.verify(token)


@needs_chromium
async def test_redoc_shows_every_operation(platform, browser):
    page = await browser.new_page()
    await page.goto(f"{platform['url']}/redoc")
    await page.wait_for_selector('[id^="operation/"]')
    shown = {i.removeprefix("operation/") for i in await page.locator('[id^="operation/"]').evaluate_all(
        "nodes => nodes.map(n => n.id)")}
    ids = operation_ids(platform["spec"])
    assert sorted(ids - shown) == [] and len(ids) > 70
    assert "/auth/token" in await page.content()  # the security scheme, with its token URL
    await page.close()
