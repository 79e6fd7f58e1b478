"""Issue 17's payment cycle in the console: the batch's creator publishes the notice and sees the maker-checker
rule on the approve button, a station manager objects on the notice and a worker from the phone, the bureau
dismisses both, a second bureau_admin approves
and releases, downloads the bank file and uploads the bank's answer (2 paid, 1 failed, 1 row that matches
nothing); the failed worker sees on the phone what they were told, with the bank's reason.

Paid under a policy of the test's own (as the e2e cycle test does), to demo workers neither worker1 (whose phone
pages the other tests read) nor those the e2e cycle test pays."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from devstack.demo import POLICY
from tests.support import bank_result_file, copy_policy, demo_manager_of, demo_managers, me

CYCLE_POLICY = "console-bank-cycle"
CHECKER = ("console-checker", "a long passphrase for the console checker")
WORKER = ("console-worker", "a long passphrase for the console worker")
REASON = "户名与账号不符"


def fen(text: str) -> int:
    yuan, cents = text.split(".")
    return int(yuan) * 100 + int(cents)


@pytest.fixture(scope="module")
def batch(stack):
    """A draft batch of three transfers under the test's policy (no notice days), a second bureau_admin, and a
    social worker login for one of the three."""
    if not stack.subsidy_dsn:
        pytest.skip("set CONSOLE_SUBSIDY_DSN to the stack's subsidy database to run the payment cycle test")
    asyncio.run(copy_policy(stack.subsidy_dsn, CYCLE_POLICY, POLICY))
    admin = stack.api("admin")
    admin.post("/auth/users", {"username": CHECKER[0], "password": CHECKER[1], "roles": ["bureau_admin"]},
               expect=(201, 409))
    stack.logins[CHECKER[0]] = CHECKER[1]
    checker = stack.api(CHECKER[0])
    admin.request("PUT", f"/subsidy/v1/policies/{CYCLE_POLICY}/payment-terms", json={"notice_working_days": 0})
    worker1 = me(stack.api("worker1"))
    paid_by_demo = sorted(a["worker_id"] for a in admin.all("/subsidy/v1/applications")
                          if a["policy"] == POLICY and a["status"] == "approved" and a["worker_id"] != worker1)

    def owed(worker: str) -> bool:
        """Owed some month through 2026-10 by the rules. An approved application alone is not enough: tests
        before this one approve applications for workers whatever their facts (the browser tests one for a worker
        of manager2's who had not applied), and a worker owed nothing gets no transfer."""
        months = admin.get(f"/subsidy/v1/workers/{worker}/eligibility",
                           params={"policy": POLICY, "from": "2023-01", "through": "2026-10"})["months"]
        return any(m["rule"] == "payable" for m in months)

    # at the demo's stations: the test below needs the third worker's station manager
    managers = demo_managers(stack.api)
    workers = [w for w in paid_by_demo if demo_manager_of(managers, w) and owed(w)][:3]
    assert len(workers) == 3, paid_by_demo
    for n, w in enumerate(workers):
        person = admin.get(f"/registry/v1/workers/{w}")
        if not [a for a in admin.get(f"/registry/v1/workers/{w}/bank-accounts")["items"] if a["status"] == "verified"]:
            admin.post(f"/registry/v1/workers/{w}/bank-accounts", {
                "bank_name": "中国农业银行鄂托克旗支行", "account_number": f"622848{70 + n:013d}",
                "holder_name": person["name"]})
        application = admin.post("/subsidy/v1/applications", {"worker_id": w, "policy": CYCLE_POLICY})
        checker.post(f"/subsidy/v1/applications/{application['id']}/approve")
    admin.post("/auth/users", {"username": WORKER[0], "password": WORKER[1], "roles": ["social_worker"],
                               "worker_id": workers[1]}, expect=(201, 409))
    stack.logins[WORKER[0]] = WORKER[1]
    created = admin.post("/subsidy/v1/disbursements", {"policy": CYCLE_POLICY, "month": "2026-10"})
    assert created["transfers"] == 3, [  # each worker's transfer, to tell which one had none and why
        (t["worker_id"] in workers, t["net_to_pay_fen"], t["set_off_fen"], t["status"])
        for t in admin.all(f"/subsidy/v1/disbursements/{created['id']}/workers")]
    return {"id": created["id"], "workers": workers}


def test_the_bank_payment_cycle_in_the_console(console, stack, batch, tmp_path):
    admin = stack.api("admin")
    url = f"/subsidy/v1/disbursements/{batch['id']}"
    route = f"disbursements/{batch['id']}"

    # the creator publishes; approving is another admin's, and the page says so
    console.login("admin")
    console.goto(route, "disbursements")
    assert console.find("#cycle-steps").get_attribute("data-status") == "draft"
    assert console.all("#lines-table .mark-paid")  # a draft's lines can still be marked one by one
    console.find("#cycle-publish").click()
    console.wait(lambda d: console.find("#cycle").get_attribute("data-status") == "on_notice")
    console.wait_ready()
    rows = console.all("#notice-table tbody tr")
    assert len(rows) == 3 and all("*" in r.find_elements("css selector", "td")[0].text for r in rows)
    assert not console.all("#lines-table .mark-paid")  # the bank's file marks a published batch
    assert not console.find("#cycle-approve").is_enabled()
    assert "另一名民政局管理员" in console.text("#maker-checker")

    console.screenshot("cycle-notice-creator")

    # objections from the two other places the API takes them: the third worker's station manager on the batch's
    # page (their workers' part of the notice), the second worker on the phone page; the bureau dismisses both
    line = next(i["line_id"] for i in admin.get(f"{url}/notice")["items"] if i["worker_id"] == batch["workers"][2])
    manager = demo_manager_of(demo_managers(stack.api), batch["workers"][2])
    console.login(manager, fresh=True)
    console.goto(route, "disbursements")
    theirs = stack.api(manager).get(f"{url}/notice")["items"]  # their workers' part of the notice, masked
    assert {r.get_attribute("data-id") for r in console.all("#notice-table tbody tr")} == {
        f"line-{i['line_id']}" for i in theirs}
    assert not console.all("#cycle-approve") and not console.all("#bank-files")
    console.find(f'#notice-table tr[data-id="line-{line}"] .objection-reason').send_keys("金额有误")
    console.find(f'#notice-table tr[data-id="line-{line}"] .object').click()
    console.wait(lambda d: "金额有误" in console.text("#objections-table"))
    assert not console.all("#objections-table .dismiss")  # the bureau decides
    console.screenshot("cycle-notice-manager")

    console.phone(True)
    try:
        console.login(WORKER[0], fresh=True)
        box = console.find(f'.objection[data-batch="{batch["id"]}"]')
        assert "2026-10" in box.text
        box.find_element("css selector", ".objection-reason").send_keys("我本月未在岗")
        box.find_element("css selector", ".object").click()
        console.wait(lambda d: "暂缓转账" in console.text(f'.objection[data-batch="{batch["id"]}"]'))
        assert console.js("return document.documentElement.scrollWidth") <= 375
        console.screenshot("me-phone-objection", full=False)
    finally:
        console.phone(False)

    console.login("admin", fresh=True)
    console.goto(route, "disbursements")
    raised = {o["reason"]: o for o in admin.all(f"{url}/objections")}
    assert (raised["金额有误"]["worker_id"], raised["我本月未在岗"]["worker_id"]) == (
        batch["workers"][2], batch["workers"][1])
    assert console.text("#cycle-open-objections").endswith("2")
    for objection in raised.values():
        row = f'#objections-table tr[data-id="{objection["id"]}"]'
        console.find(f"{row} .decision-reason").send_keys("已核实无误")
        console.find(f"{row} .dismiss").click()
        console.wait(lambda d, row=row: not console.all(f"{row} .dismiss"))
    assert console.text("#objections-table").count("不成立 已核实无误") == 2
    assert console.text("#cycle-open-objections").endswith("0")
    console.screenshot("cycle-notice")

    # the second admin approves and releases, and downloads the bank file by template
    console.login(CHECKER[0], fresh=True)
    console.goto(route, "disbursements")
    console.find("#cycle-approve").click()
    console.wait(lambda d: console.find("#cycle").get_attribute("data-status") == "approved")
    console.find("#cycle-release").click()
    console.wait(lambda d: console.find("#cycle").get_attribute("data-status") == "released")
    cycle = admin.get(f"{url}/cycle")
    assert cycle["bank_count"] == 3
    assert {b.get_attribute("id") for b in console.all("#bank-files button")} == {
        f"bank-file-{template}" for template in cycle["bank_files"]}
    console.find("#bank-file-generic-csv").click()
    file = console.downloads / f"bank-{CYCLE_POLICY}-2026-10-generic-csv.csv"
    console.wait(lambda d: file.exists() and file.stat().st_size > 0)
    table = list(csv.reader(io.StringIO(file.read_bytes().decode("utf-8-sig"))))
    rows = table[1:-1]
    assert len(rows) == 3 and table[-1][2] == "3"

    # the bank's answer: the login's worker failed, the others paid, one row the bank made up
    seq_of = {p["worker_id"]: p["seq"] for p in admin.all(f"{url}/bank-payments")}
    failing = str(seq_of[batch["workers"][1]])
    answer = [[r[0], r[2], r[1], r[3], "失败" if r[0] == failing else "成功", REASON if r[0] == failing else ""]
              for r in rows] + [["99", "6228480000000000999", "某某", "1.00", "成功", ""]]
    results = tmp_path / "results.csv"
    results.write_bytes(bank_result_file(answer, sum(fen(r[3]) for r in answer)))
    console.find("#bank-results-file").send_keys(str(results))
    console.find("#bank-results-upload").click()
    console.wait(lambda d: console.find("#cycle").get_attribute("data-status") == "settled")
    assert console.text("#report-paid").endswith("2") and console.text("#report-failed").endswith("1")
    assert console.text("#report-unmatched").endswith("1") and "99" in console.text("#unmatched-table")
    failed_row = console.text(f'#bank-payments-table tr[data-id="seq-{failing}"]')
    assert "失败" in failed_row and REASON in failed_row
    assert {p["status"] for p in admin.all(f"{url}/bank-payments")} == {"paid", "failed"}
    console.screenshot("cycle-bank")

    # the failed worker's phone: on notice, then failed with the bank's reason, newest first
    console.phone(True)
    try:
        console.login(WORKER[0], fresh=True)
        assert console.js("return document.body.dataset.page") == "me"
        items = console.all("#my-notifications li")
        events = [i.get_attribute("data-event") for i in items]
        assert events[0] == "failed" and "on_notice" in events[1:]
        assert REASON in items[0].text and "2026-10" in items[0].text
        assert console.js("return document.documentElement.scrollWidth") <= 375
        console.screenshot("me-phone-notifications", full=False)
    finally:
        console.phone(False)


def test_a_receivable_is_repaid_and_written_off_by_a_second_admin(console, stack, batch):
    """After the cycle above: the policy's rate is cut back to 2025 (a new version), so what the batch paid is
    partly owed back; the next batch records the recoveries and, with little left to pay, receivables."""
    admin = stack.api("admin")
    admin.post(f"/subsidy/v1/policies/{CYCLE_POLICY}/versions", {
        "effective_from": "2025-01-01", "rate_senior_fen": 100, "rate_intermediate_fen": 100,
        "rate_assistant_fen": 100})
    admin.post("/subsidy/v1/disbursements", {"policy": CYCLE_POLICY, "month": "2026-11"})
    worker = batch["workers"][0]
    before = admin.get(f"/subsidy/v1/receivables/{worker}")
    assert before["balance_fen"] > 15_000

    console.login("admin", fresh=True)
    console.goto("disbursements", "disbursements")
    row = f'#receivables-table tr[data-id="{worker}"]'
    console.find(f"{row} .repay-amount").send_keys("100")
    console.find(f"{row} .repay").click()
    console.wait_ready()  # the action is done and the tables drawn again
    assert admin.get(f"/subsidy/v1/receivables/{worker}")["repaid_fen"] == 10_000
    console.find(f"{row} .write-off-amount").send_keys("50.5")
    console.find(f"{row} .write-off-reason").send_keys("本人已离职，无法追回")
    console.find(f"{row} .propose-write-off").click()
    console.wait_ready()
    assert "本人已离职，无法追回" in console.text("#write-offs-table")
    proposal = next(w for w in admin.all("/subsidy/v1/write-offs") if w["worker_id"] == worker)
    assert proposal["amount_fen"] == 5_050 and proposal["status"] == "proposed"
    mine = console.find(f'#write-offs-table tr[data-id="{proposal["id"]}"]')
    assert "另一名民政局管理员" in mine.text and not mine.find_elements("css selector", ".approve-write-off")
    console.screenshot("receivables")

    console.login(CHECKER[0], fresh=True)
    console.goto("disbursements", "disbursements")
    console.find(f'#write-offs-table tr[data-id="{proposal["id"]}"] .approve-write-off').click()
    console.wait_ready()
    assert "已核销" in console.text(f'#write-offs-table tr[data-id="{proposal["id"]}"]')
    after = admin.get(f"/subsidy/v1/receivables/{worker}")
    assert (after["repaid_fen"], after["written_off_fen"]) == (10_000, 5_050)
    assert after["balance_fen"] == before["balance_fen"] - 15_050
    assert console.text(f'#receivables-table tr[data-id="{worker}"] .balance') == \
        f"{after['balance_fen'] // 100:,}.{after['balance_fen'] % 100:02d} 元".replace(".00 元", " 元")
