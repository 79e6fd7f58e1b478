"""The console in headless Chromium against the real stack with the demo data: each demo role signs in, the
dashboard draws its charts from aggregates, the sample HR file is imported with its bad rows shown, an
application is approved (maker-checker visible), a batch is created and exported, a station report is
entered, confirmed and amended, and a social worker on a 375 px screen sees the eligibility timeline.
Screenshots of each page go to tests/console/screenshots/ (git-ignored)."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import jwt
import pytest

from devstack.api import Api
from shared.clock import bureau_today
from shared.validators import id_number_check_char
from tests.support import me

POLICY = "otog-talent-subsidy"
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hr-export-sample.csv"
ADMIN_PAGES = {"dashboard", "workers", "import", "review", "disbursements", "station", "webhooks"}


def this_month() -> str:
    """The bureau's current month, as the console computes it (Asia/Shanghai)."""
    return bureau_today().strftime("%Y-%m")


def new_id_number() -> str:
    first17 = f"150624{random.randrange(1960, 2000)}{random.randrange(1, 13):02d}{random.randrange(1, 29):02d}" \
              f"{random.randrange(1000):03d}"
    return first17 + id_number_check_char(first17)


def test_each_demo_role_signs_in_to_its_pages_and_out(console, stack):
    expected = {
        "admin": ("dashboard", ADMIN_PAGES),
        "auditor1": ("dashboard", {"dashboard", "workers", "review", "disbursements", "webhooks"}),
        "manager1": ("station", {"dashboard", "workers", "import", "review", "disbursements", "station"}),
        "worker1": ("me", {"me"}),
    }
    for username, (landing, pages) in expected.items():
        console.login(username, fresh=True)
        assert console.js("return document.body.dataset.page") == landing
        assert {a.get_attribute("id").removeprefix("nav-") for a in console.all("#nav a")} == pages
        assert username in console.text("#who")
        session = console.session()
        assert session["access_token"] and session["refresh_token"]
        assert session["access_token"] not in console.driver.current_url
        assert session["refresh_token"] not in console.driver.current_url
        console.screenshot(f"signed-in-{username}", full=False)
        console.find("#logout").click()
        console.wait_ready("login")
        assert console.session() == {}

    console.find("#username").send_keys("admin")
    console.find("#password").send_keys("not the password")
    console.find("#login-button").click()
    assert "用户名或密码不正确" in console.find("#login-form .notice.error").text
    console.screenshot("login-refused", full=False)


def test_the_dashboard_draws_its_charts_from_aggregates_only(console, stack):
    api = stack.api("admin")
    stats = api.get("/registry/v1/stats")
    summary = api.get("/subsidy/v1/reports/summary", params={"policy": POLICY, "from": "2000-01",
                                                              "to": this_month()})
    console.login("admin")
    console.js("performance.clearResourceTimings()")
    seconds = console.goto("dashboard", "dashboard")
    holders = stats["certificate_holders"]
    levels = [holders["by_level"][k] for k in ("assistant", "intermediate", "senior")]
    assert console.text("#holders-equation") == f"{holders['total']} = " + " + ".join(str(n) for n in levels if n)
    assert f"{summary['people']} 人" in console.text("#kpi-paid")
    for canvas in ("chart-holders-level", "chart-holders-year", "chart-holders-station", "chart-paid-month",
                   "chart-paid-station", "chart-projects", "chart-calls"):
        chart = console.chart(canvas)
        assert chart["datasets"] >= 1 and any(chart["values"]), (canvas, chart)
        assert chart["painted"] > 2000, (canvas, chart)  # drawn, not a blank canvas
    assert console.chart("chart-holders-level")["values"] == levels
    assert console.chart("chart-holders-year")["values"] == [y["total"] for y in holders["by_year"]]
    assert sum(console.chart("chart-holders-station")["values"]) == sum(s["total"] for s in holders["by_station"])
    calls = console.js("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert not [c for c in calls if c.startswith("/registry/v1/workers")], calls  # never a walk over the workers
    print(f"\ndashboard ready {seconds:.2f} s after navigation, {len(calls)} API calls")
    console.screenshot("dashboard")

    # the English switch: labels, numbers and charts in English, kept across a reload (and the next sign-in)
    console.find("#lang-switch").click()
    console.wait_ready("dashboard")
    assert console.text("main h1") == "Dashboard" and console.js("return document.documentElement.lang") == "en"
    assert f"{summary['people']} people" in console.text("#kpi-paid")
    console.driver.refresh()
    console.wait_ready("dashboard")
    assert console.text("main h1") == "Dashboard" and console.text("#nav-review") == "Review"
    assert console.chart("chart-holders-level")["values"] == levels
    console.screenshot("dashboard-en")
    console.find("#lang-switch").click()
    console.wait_ready("dashboard")
    assert console.text("main h1") == "数据看板"


def test_the_token_is_refreshed_before_it_expires_and_a_dead_session_goes_to_login(console, stack):
    console.login("admin")
    before = console.session()
    # The token is about to expire: on start the client refreshes it before making any call.
    console.js("""const s = JSON.parse(sessionStorage.getItem('console.session'));
                  s.expires_at = Date.now() + 3000; sessionStorage.setItem('console.session', JSON.stringify(s));""")
    console.driver.refresh()
    console.wait(lambda d: console.session().get("access_token") not in (None, before["access_token"]))
    console.wait_ready("dashboard")
    after = console.session()
    assert after["expires_at"] > time.time() * 1000 + 60_000
    Api(stack.gateway, after["access_token"]).get("/registry/v1/stats")  # the new token works
    # A refresh token the gateway refuses ends the session: back to the login page, tokens forgotten.
    console.js("""const s = JSON.parse(sessionStorage.getItem('console.session'));
                  s.expires_at = Date.now() - 1000; s.refresh_token = 'forged';
                  sessionStorage.setItem('console.session', JSON.stringify(s));""")
    console.driver.refresh()
    console.wait_ready("login")
    assert console.session() == {}


def test_a_social_worker_on_a_phone_sees_why_month_by_month_and_applies(console, stack):
    api = stack.api("worker1")
    worker_id = me(api)
    eligibility = api.get(f"/subsidy/v1/workers/{worker_id}/eligibility",
                          params={"policy": POLICY, "through": this_month()})
    console.phone(True)
    try:
        console.login("worker1")
        assert console.js("return document.body.dataset.page") == "me"
        assert console.js("return window.innerWidth") == 375
        assert console.js("return document.documentElement.scrollWidth") <= 375  # nothing sticks out sideways
        entries = console.all("#eligibility-timeline > li")
        assert sum(int(e.get_attribute("data-months")) for e in entries) == len(eligibility["months"])
        # every month is in one entry (runs of months decided alike are one entry) and every reason is on the page
        ranges = [(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in entries]
        assert all(any(lo <= m["month"] <= hi for lo, hi in ranges) for m in eligibility["months"])
        timeline = console.js("return document.getElementById('eligibility-timeline').textContent")
        assert all(m["reason"] in timeline for m in eligibility["months"])
        assert {"可发放", "已发放"} & set(console.text("#eligibility-timeline").split())
        assert ("符合补贴条件" if eligibility["eligible"] else "暂不符合补贴条件") in console.text("#eligible")
        console.screenshot("me-phone-top", full=False)
        console.screenshot("me-phone")
        if console.all("#apply"):
            console.find("#apply").click()
            console.wait(lambda d: "待审核" in console.text("#my-applications"))
        assert api.get("/subsidy/v1/applications", params={"worker_id": worker_id})["items"]
        console.js("document.getElementById('eligibility-timeline').scrollIntoView()")
        console.screenshot("me-phone-timeline", full=False)
    finally:
        console.phone(False)


def test_a_workers_page_shows_the_record_masked_for_the_auditor(console, stack):
    worker_id = me(stack.api("worker1"))
    console.login("auditor1")
    console.goto(f"workers/{worker_id}", "workers-detail")
    facts = console.text("#worker-facts")
    assert "********" in facts and "****" in facts  # ID number and phone masked for the auditor
    assert console.all("#certificates-table tbody tr") and console.all("#employments-table tbody tr")
    assert console.all("#eligibility-timeline > li")
    console.screenshot("worker-auditor")


def test_the_bureau_approves_and_rejects_with_the_maker_checker_rule_visible(console, stack):
    admin = stack.api("admin")
    worker_id = me(stack.api("worker1"))
    applied = {a["worker_id"] for a in admin.all("/subsidy/v1/applications")}
    manager = stack.api("manager2")
    others = [w["id"] for w in manager.all("/registry/v1/workers") if w["id"] not in applied]
    # worker1 applied from the phone in the test above; a manager's submission when run alone
    waiting = admin.get("/subsidy/v1/applications", params={"worker_id": worker_id, "status": "submitted"})["items"]
    to_approve = waiting[0]["id"] if waiting else \
        manager.post("/subsidy/v1/applications", {"worker_id": others[2], "policy": POLICY})["id"]
    to_reject = manager.post("/subsidy/v1/applications", {"worker_id": others[0], "policy": POLICY})["id"]
    own = admin.post("/subsidy/v1/applications", {"worker_id": others[1], "policy": POLICY})["id"]
    # two changes of bank account a station manager asked for: the bureau confirms one and rejects the other
    changes = []
    for worker in manager.all("/registry/v1/workers")[:2]:
        changes.append(manager.post(f"/registry/v1/workers/{worker['id']}/bank-accounts", {
            "bank_name": "中国农业银行鄂托克旗支行", "account_number": f"622848{random.randrange(10**13):013d}",
            "holder_name": worker["name"]}))
    assert {c["status"] for c in changes} == {"pending"}

    console.login("admin")
    console.goto("review", "review")
    own_row = console.find(f'tr[data-id="{own}"]')
    assert "须由他人审核" in own_row.text and not own_row.find_elements("css selector", ".approve")
    console.find(f'tr[data-id="{to_approve}"] .approve').click()
    console.wait(lambda d: "已通过" in console.text(f'tr[data-id="{to_approve}"]'))
    console.find(f'tr[data-id="{to_reject}"] .reject-reason').send_keys("缺少在岗证明")
    console.find(f'tr[data-id="{to_reject}"] .reject').click()
    console.wait(lambda d: "已驳回" in console.text(f'tr[data-id="{to_reject}"]'))
    confirm, refuse = (f'#bank-account-changes-table tr[data-id="{c["id"]}"]' for c in changes)
    assert "****" in console.text(confirm)  # the account masked, as the API shows it
    console.find(f"{confirm} .approve").click()
    console.wait(lambda d: "已确认" in console.text(confirm))
    console.find(f"{refuse} .reject-reason").send_keys("户名与身份证不符")
    console.find(f"{refuse} .reject").click()
    console.wait(lambda d: "已驳回" in console.text(refuse))
    console.screenshot("review")
    accounts = {a["id"]: a for c in changes
                for a in admin.get(f"/registry/v1/workers/{c['worker_id']}/bank-accounts")["items"]}
    assert (accounts[changes[0]["id"]]["status"], accounts[changes[1]["id"]]["status"]) == ("verified", "rejected")
    assert accounts[changes[1]["id"]]["decision_reason"] == "户名与身份证不符"

    approved = admin.get(f"/subsidy/v1/applications/{to_approve}")
    assert approved["status"] == "approved" and approved["reviewed_by"] == console.session()["claims"]["sub"]
    rejected = admin.get(f"/subsidy/v1/applications/{to_reject}")
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "缺少在岗证明"
    assert admin.get(f"/subsidy/v1/applications/{own}")["status"] == "submitted"


def test_importing_the_sample_file_shows_the_bad_rows(console, stack):
    console.login("admin")
    console.goto("import", "import")
    console.find("#import-file").send_keys(str(SAMPLE))
    console.find("#import-submit").click()
    console.find("#import-result")
    rows = [r.get_attribute("data-id") for r in console.all("#import-report tbody tr")]
    assert rows == ["row-11", "row-21", "row-31", "row-41", "row-51"]
    report = console.text("#import-report")
    for reason in ("check digit does not match", "duplicate ID number", "1985-13-40 is not a real date",
                   "unknown certificate level 社工证", "2031-01-01 is in the future"):
        assert reason in report
    assert console.text("#import-errors").endswith("5")
    console.screenshot("import")
    console.find("#only-errors").click()
    assert len(console.all("#import-report tbody tr")) == 60


def test_the_bureau_creates_the_months_batch_and_exports_it(console, stack):
    admin = stack.api("admin")
    console.login("admin")
    console.goto("disbursements", "disbursements")
    console.find("#batch-create").click()
    console.wait(lambda d: console.find("#cycle").get_attribute("data-status"))  # set once the batch is drawn
    month = this_month()
    batch = admin.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": month}, expect=200)  # the same one
    assert batch["id"] in console.driver.current_url
    # The demo's own batches already paid every month it confirmed, so this month's batch may be empty: the page
    # must show what the API says either way.
    assert console.text("#batch-lines").endswith(str(batch["line_count"]))
    assert len(console.all("#lines-table tbody tr")) >= batch["line_count"]  # plus any recovery lines
    listed = {b["id"]: b for b in admin.all("/subsidy/v1/disbursements")}
    rows = console.all("#batches-table tbody tr")
    assert len(rows) == len(listed) and batch["id"] in listed  # every batch, this one (open, not a link) too
    assert rows[0].text.startswith(max(listed.values(), key=lambda b: b["created_at"])["month"])  # newest first
    links = [a.get_attribute("href").rsplit("/", 1)[-1] for a in console.all("#batches-table tbody a")]
    assert batch["id"] not in links and set(links) <= set(listed)
    console.screenshot("disbursement")
    console.find("#export-xlsx").click()
    file = console.downloads / f"disbursement-{month}.xlsx"
    console.wait(lambda d: file.exists() and file.stat().st_size > 0)
    assert file.read_bytes()[:2] == b"PK"  # a zip: an XLSX workbook

    # webhooks: subscribed with the secret shown once, listed, disabled (nothing is sent to it)
    console.goto("webhooks", "webhooks")
    url = f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex[:8]}"
    console.find("#webhook-url").send_keys(url)
    console.find("#webhook-description").send_keys("人社系统")
    console.find("#webhook-create").click()
    assert console.find("#webhook-secret").text.startswith("whsec_")
    hook = next(w for w in admin.all("/subsidy/v1/webhooks") if w["url"] == url)
    row = f'#webhooks-table tr[data-id="{hook["id"]}"]'
    console.find(f"{row} .disable-webhook").click()
    console.wait(lambda d: "已停用" in console.text(row))
    assert not next(w for w in admin.all("/subsidy/v1/webhooks") if w["url"] == url)["active"]
    console.find(f"{row} .show-deliveries").click()
    console.find("#deliveries .empty")
    console.screenshot("webhooks")


def test_a_station_manager_enters_confirms_and_amends_the_month(console, stack):
    month = this_month()
    for username in ("manager1", "manager2", "manager3", "manager4", "manager5", "manager6"):
        manager = stack.api(username)
        station_id = jwt.decode(manager.token, options={"verify_signature": False})["station_ids"][0]
        if not manager.get("/projects/v1/service-reports", params={"station_id": station_id, "month": month})["items"]:
            break
    else:
        pytest.fail("every station already has a report for this month")
    console.login(username)
    assert console.js("return document.body.dataset.page") == "station"
    rows = console.all("#report-grid tbody tr")
    assert rows
    first, second = rows[0].get_attribute("data-worker"), rows[1].get_attribute("data-worker")
    rows[0].find_element("css selector", ".full-time").click()
    hours = rows[0].find_element("css selector", ".hours")
    hours.clear()
    hours.send_keys("80")
    console.find("#report-save").click()
    console.find("#report-confirm").click()
    console.find("#report-amend")
    reports = manager.get("/projects/v1/service-reports", params={"station_id": station_id, "month": month})["items"]
    assert reports[0]["status"] == "confirmed" and len(reports[0]["entries"]) == len(rows)
    entries = {e["worker_id"]: e for e in reports[0]["entries"]}
    assert entries[first]["full_time"] is False and entries[first]["service_hours"] == 80

    hours = console.find(f'tr[data-worker="{second}"] .hours')
    hours.clear()
    hours.send_keys("100")
    console.find("#report-amend").click()
    console.wait(lambda d: "更正于" in console.text("#report-status"))
    entries = {e["worker_id"]: e for e in manager.get(f"/projects/v1/service-reports/{reports[0]['id']}")["entries"]}
    assert entries[second]["service_hours"] == 100 and entries[second]["revision"] == 2
    console.screenshot("station")


def test_text_from_the_api_is_shown_as_text_and_the_policy_held(console, stack):
    admin = stack.api("admin")
    tag = uuid.uuid4().hex[:6]
    name = f'<img src=x onerror="window.pwned=1">{tag}'
    admin.post("/registry/v1/workers", {"name": name, "id_number": new_id_number()})
    console.login("admin")
    console.goto(f"workers?q={tag}", "workers")
    cell = console.find("#workers-table tbody td a")
    assert cell.text == name
    assert console.js("return document.querySelectorAll('main img').length") == 0
    assert console.js("return window.pwned") is None
    violations = [m for m in console.console_errors()
                  if "Content Security Policy" in m or "TrustedHTML" in m or "Trusted Type" in m]
    assert violations == []
