"""Issue 17's cycle through the gateway on the shared demo stack: bank accounts, notice, approval by a second
admin, release, the bank file, the bank's results (3 paid, 1 failed, 1 unknown; a control total one fen off
first), and the failed worker's months paid again by the next batch.

It pays demo workers under a policy of its own (a copy of the demo policy's terms, inserted as the migration
inserts the default one: policies have no create endpoint), so the demo policy's figures stay as they are."""

from __future__ import annotations

import asyncio
import csv
import io

from devstack.api import Api
from devstack.demo import BATCH_MONTHS, CYCLE_MONTH, FAILURE_REASON, POLICY
from tests.support import assert_problem, bank_result_file, copy_policy, demo_manager_of, demo_managers, me

E2E_POLICY = "e2e-bank-cycle"


def test_the_demo_pays_a_batch_through_the_bank_and_the_failed_worker_again(suite):
    """The demo's cycle batch: settled, approved by another admin than the publisher; every transfer paid but the
    last, failed with the bank's reason; that worker's months (and those of the worker without an account, left
    out of the release) paid by the next batch."""
    admin = suite.admin()

    def batch(month: str) -> str:
        return admin.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": month}, expect=200)["id"]

    cycled = batch(CYCLE_MONTH)
    following = batch(BATCH_MONTHS[BATCH_MONTHS.index(CYCLE_MONTH) + 1])
    cycle = admin.get(f"/subsidy/v1/disbursements/{cycled}/cycle")
    assert cycle["status"] == "settled" and cycle["approved_by"] != cycle["published_by"]
    transfers = admin.all(f"/subsidy/v1/disbursements/{cycled}/bank-payments")
    assert len(transfers) == cycle["bank_count"] > 1
    assert [(t["status"], t["failure_reason"]) for t in transfers] == [("paid", None)] * (len(transfers) - 1) + [
        ("failed", FAILURE_REASON)]
    lines = admin.all(f"/subsidy/v1/disbursements/{cycled}/lines")
    released = {t["worker_id"] for t in transfers}
    left_out = {x["worker_id"] for x in lines} - released
    assert len(left_out) == 1 and {x["status"] for x in lines if x["worker_id"] in left_out} == {"voided"}
    again = admin.all(f"/subsidy/v1/disbursements/{following}/lines")
    for worker in (transfers[-1]["worker_id"], *left_out):
        unpaid = {x["month"] for x in lines if x["worker_id"] == worker and x["kind"] == "subsidy"}
        assert unpaid and unpaid <= {x["month"] for x in again if x["worker_id"] == worker and x["status"] == "paid"}
    for t in transfers[:-1]:  # a paid month is never paid again
        paid = {x["month"] for x in lines if x["worker_id"] == t["worker_id"] and x["kind"] == "subsidy"}
        assert not paid & {x["month"] for x in again if x["worker_id"] == t["worker_id"] and x["kind"] == "subsidy"}
    failed = transfers[-1]["worker_id"]
    told = [(n["event"], n["reason"]) for n in admin.all(f"/subsidy/v1/workers/{failed}/notifications")
            if n["disbursement_id"] == cycled]
    assert told == [("on_notice", None), ("failed", FAILURE_REASON)]


def test_the_bank_payment_cycle_through_the_gateway(suite, demo_stack):
    asyncio.run(copy_policy(demo_stack.dsn("subsidy"), E2E_POLICY, POLICY))
    admin = suite.admin()
    admin.post("/auth/users", {"username": "e2e-bank-checker", "password": "a long passphrase for e2e",
                               "roles": ["bureau_admin"]}, expect=(201, 409))
    checker = suite.login("e2e-bank-checker", "a long passphrase for e2e")
    auditor = suite.login("auditor1")
    assert admin.request("PUT", f"/subsidy/v1/policies/{E2E_POLICY}/payment-terms",
                         json={"notice_working_days": 0})["notice_working_days"] == 0

    # five demo workers the demo policy pays apply under this policy; four get a new account, one has none (the
    # demo records none for one of them); not worker1, whose phone pages other tests read, nor the other e2e
    # tests' workers (approved under the demo policy too, at stations of their own, with histories of their own)
    worker1 = me(suite.login("worker1"))
    managers = demo_managers(suite.login)
    paid_by_demo = [a["worker_id"] for a in admin.all("/subsidy/v1/applications")
                    if a["policy"] == POLICY and a["status"] == "approved" and a["worker_id"] != worker1
                    and demo_manager_of(managers, a["worker_id"])]
    no_account = [w for w in paid_by_demo if admin.all(f"/subsidy/v1/workers/{w}/notifications") and not any(
        a["status"] == "verified" for a in admin.all(f"/registry/v1/workers/{w}/bank-accounts"))]
    assert len(no_account) == 1  # told by the demo's cycle, without an account
    workers = sorted(set(paid_by_demo) - set(no_account))[-4:] + no_account
    names = {}
    for n, w in enumerate(workers):
        person = admin.get(f"/registry/v1/workers/{w}")
        names[w] = person["name"]
        if n < 4:
            account = admin.post(f"/registry/v1/workers/{w}/bank-accounts", {
                "bank_name": "中国农业银行鄂托克旗支行", "account_number": f"622848{n:013d}",
                "holder_name": person["name"]})
            assert (account["status"], account["account_number"][-4:]) == ("verified", f"{n:04d}")
        application = admin.post("/subsidy/v1/applications", {"worker_id": w, "policy": E2E_POLICY})
        checker.post(f"/subsidy/v1/applications/{application['id']}/approve")
    batch = admin.post("/subsidy/v1/disbursements", {"policy": E2E_POLICY, "month": "2026-10"})
    url = f"/subsidy/v1/disbursements/{batch['id']}"
    assert batch["transfers"] == 5

    # notice (no notice days under this policy's terms), approval by another admin, release
    assert admin.post(f"{url}/publish")["status"] == "on_notice"
    notice = admin.get(f"{url}/notice")
    assert notice["count"] == 5 and all("*" in i["name_masked"] and "*" in i["id_number_masked"]
                                        for i in notice["items"])
    page = admin.get(f"{url}/notice", params={"format": "html"})
    assert all(name not in page.text for name in names.values() if len(name) > 1)
    assert_problem(admin.http.post(f"{url}/approve"), 403)  # the batch's creator
    assert checker.post(f"{url}/approve")["status"] == "approved"
    assert_problem(auditor.http.post(f"{url}/release"), 403)
    released = admin.post(f"{url}/release")
    assert released["status"] == "released" and released["bank_count"] == 4
    assert [(x["worker_id"], x["reason"]) for x in released["not_released"]] == [
        (workers[4], "no verified bank account")]

    # the bank file: the bureau_admin's alone, the same bytes every time
    assert_problem(auditor.http.get(f"{url}/bank-file", params={"template": "generic-csv"}), 403)
    files = [admin.get(f"{url}/bank-file", params={"template": "generic-csv"}) for _ in range(2)]
    assert files[0].content == files[1].content
    assert files[0].headers["x-content-sha256"] == released["bank_files"]["generic-csv"]
    table = list(csv.reader(io.StringIO(files[0].content.decode("utf-8-sig"))))
    rows = table[1:-1]
    assert table[-1][2:4] == ["4", f"{released['bank_total_fen'] / 100:.2f}"]
    assert {r[1] for r in rows} == {names[w] for w in workers[:4]}  # clear names: the bank pays by name

    # the bank answers: three paid, one failed, one row it made up; first with a total one fen off
    def fen(text: str) -> int:
        yuan, cents = text.split(".")
        return int(yuan) * 100 + int(cents)

    answer = [[r[0], r[2], r[1], r[3], "成功", ""] for r in rows[:3]] + [
        [rows[3][0], rows[3][2], rows[3][1], rows[3][3], "失败", "户名与账号不符"],
        ["99", "6228480000000000999", "某某", "1.00", "成功", ""]]
    total = sum(fen(r[3]) for r in answer)
    headers = {"Content-Type": "text/csv; charset=gbk"}
    off = admin.http.post(f"{url}/bank-results", content=bank_result_file(answer, total + 1), headers=headers)
    assert_problem(off, 422, field="file")
    assert {p["status"] for p in admin.all(f"{url}/bank-payments")} == {"sent"}  # nothing changed
    report = admin.post(f"{url}/bank-results", content=bank_result_file(answer, total), headers=headers, expect=201)
    assert (report["paid"], report["failed"], [u["seq"] for u in report["unmatched"]], report["status"]) == (
        3, 1, [99], "settled")
    again = admin.post(f"{url}/bank-results", content=bank_result_file(answer, total), headers=headers, expect=200)
    assert again["replayed"] is True and again["file_id"] == report["file_id"]
    states = {p["seq"]: (p["status"], p["failure_reason"]) for p in admin.all(f"{url}/bank-payments")}
    assert states == {1: ("paid", None), 2: ("paid", None), 3: ("paid", None), 4: ("failed", "户名与账号不符")}
    failed = next(p["worker_id"] for p in admin.all(f"{url}/bank-payments") if p["seq"] == 4)
    assert [(n["event"], n["reason"]) for n in admin.all(f"/subsidy/v1/workers/{failed}/notifications")
            if n["disbursement_id"] == batch["id"]] == [("on_notice", None), ("failed", "户名与账号不符")]

    # the next batch pays the failed and the unreleased workers' months again, as new attempts; nobody twice
    following = admin.post("/subsidy/v1/disbursements", {"policy": E2E_POLICY, "month": "2026-11"})
    lines = admin.all(f"/subsidy/v1/disbursements/{following['id']}/lines")
    first = admin.all(f"{url}/lines")
    for w in workers:
        before = {x["month"] for x in first if x["worker_id"] == w and x["kind"] == "subsidy"}
        now = {x["month"] for x in lines if x["worker_id"] == w and x["kind"] == "subsidy"}
        if w in (failed, workers[4]):
            assert before <= now, w  # every month of the transfer that did not happen is due again
        else:
            assert not before & now, w  # a paid month is never paid again
    Api.close(checker)
