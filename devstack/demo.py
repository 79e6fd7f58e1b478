"""Demo data like Otog Banner's, loaded through the public API and the events (never by writing tables).

Loaded by `make run` on first start and by `python -m devstack demo` (idempotent: it stops if the
banner's guidance centre already exists). The bureau files the service-report history, station managers the
recent months, the registry's and the projects service's events reach the subsidy service over the broker,
the bureau approves applications and runs disbursements (one through the bank's payment cycle,
`pay_through_the_bank`), and a fund call gets projects in every state.

Its figures are the same on every first start, whatever the day: the people come from a seeded
generator, the service history runs from SERVICE_FROM through SERVICE_THROUGH (fixed months, so the
README's tour of November 2026 stays true), and no application or batch is made before the subsidy
service has applied every event they depend on (`wait_for_facts`).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from devstack.api import Api
from devstack.demo_data import CENTRE, DEMO_HR_CLIENT, DIVISION, STAR_RATINGS, TOWNSHIPS, as_csv, demo_people
from devstack.embedded import StackError
from shared.clock import bureau_today
from shared.money import fen_to_yuan_str
from shared.validators import backdated, credit_code_check_char

POLICY = "otog-talent-subsidy"
SERVICE_FROM = "2023-01"
SERVICE_THROUGH = "2026-10"  # the last month of confirmed service reports (the README's tour adds 2026-11)
APPLICANTS = 15  # the 15 earliest new certificate holders: 14 approved by the demo, worker1 applies in the tour
BATCH_MONTHS = ("2025-06", "2025-12", SERVICE_THROUGH)
CYCLE_MONTH = "2025-12"  # paid through the bank's cycle; the failed transfer is paid again by the next batch
FAILURE_REASON = "账户已销户"
ORGANIZATION = ("鄂托克旗助力社会工作服务中心", "52150624MJ0000000")  # credit code completed with its check char


def months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def last_month(today: date) -> str:
    return f"{today.year - 1}-12" if today.month == 1 else f"{today.year:04d}-{today.month - 1:02d}"


@dataclass
class DemoResult:
    logins: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    reports: int = 0
    paid_people: int = 0
    paid_fen: int = 0
    skipped: bool = False


def load_demo(base_url: str, *, admin_password: str, logins_file: Path, today: date | None = None,
              log=print) -> DemoResult:
    """`today` only dates the fund call and its activities (they must not be in the future); the subsidy
    figures depend on nothing but the fixed months above."""
    today = today or bureau_today()
    result = DemoResult()
    admin = Api.login(base_url, "admin", admin_password)
    if any(s["name"] == CENTRE for s in admin.all("/registry/v1/stations")):
        result.skipped = True
        if logins_file.exists():
            result.logins = json.loads(logins_file.read_text())
        return result

    log("demo: stations, organization, HR client ...")
    centre = admin.post("/registry/v1/stations", {"name": CENTRE, "kind": "centre", "division_code": DIVISION})
    stations = {}
    for i, name in enumerate(TOWNSHIPS):
        stations[name] = admin.post("/registry/v1/stations", {
            "name": name, "kind": "township", "parent_id": centre["id"], "division_code": f"{DIVISION}{100 + i}",
            "star_rating": STAR_RATINGS.get(name)})["id"]
    admin.post("/registry/v1/organizations", {"name": ORGANIZATION[0], "type": "social_work_agency",
                                              "credit_code": ORGANIZATION[1] + credit_code_check_char(ORGANIZATION[1])})
    hr_client = admin.post("/auth/clients", {"client_id": DEMO_HR_CLIENT, "name": "鄂尔多斯市人社系统",
                                             "kind": "hr_system"})
    hr = Api.client(base_url, hr_client["client_id"], hr_client["client_secret"])

    log("demo: importing 225 workers as the HR system ...")
    people = demo_people()
    imported = hr.post("/registry/v1/workers/import", content=as_csv(people),
                       headers={"Content-Type": "text/csv"}, json=None)
    errors = [r for r in imported["results"] if r["status"] == "error"]
    if errors:
        raise StackError(f"the demo import refused rows: {errors[:3]}")
    for person, row in zip(people, imported["results"], strict=True):
        person["worker_id"] = row["worker_id"]
    result.workers = len(people)
    holders = [p for p in people if p["证书等级"]]

    def register(person: dict) -> None:  # registered with the bureau (在旗民政局登记注册)
        registered = max(date(2023, 3, 1), date.fromisoformat(person["入职日期"]))
        admin.post(f"/registry/v1/workers/{person['worker_id']}/registration",
                   {"registered_on": registered.isoformat(), "division_code": DIVISION})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(register, holders))

    log("demo: logins ...")
    passwords: dict[str, str] = {}

    def user(username: str, roles: list[str], **extra) -> Api:
        passwords[username] = secrets.token_urlsafe(9)
        admin.post("/auth/users", {"username": username, "password": passwords[username], "roles": roles, **extra})
        return Api.login(base_url, username, passwords[username])

    managers = {name: user(f"manager{i + 1}", ["station_manager"], station_ids=[sid])
                for i, (name, sid) in enumerate(stations.items())}
    newly = sorted((p for p in holders if p["取得日期"] >= "2023-01-01"), key=lambda p: p["取得日期"])
    worker_login = newly[0]
    user("worker1", ["social_worker"], worker_id=worker_login["worker_id"])
    user("auditor1", ["auditor"])
    checker = user("admin2", ["bureau_admin"])  # the second bureau_admin, who approves a release
    logins_file.write_text(json.dumps(passwords, indent=2))
    logins_file.chmod(0o600)
    result.logins = passwords

    log("demo: monthly service reports (the history by the bureau, recent months by the station managers) ...")

    def file_reports(name: str, station_id: str) -> int:
        """One station's months, in month order (each worker's events are, too: a worker has one station)."""
        staff = [p for p in people if p["所在社工站"] == name]
        filed = 0
        for month in months(SERVICE_FROM, SERVICE_THROUGH):
            entries = [{"worker_id": p["worker_id"], "full_time": True, "service_hours": 168}
                       for p in staff if p["入职日期"][:7] <= month]
            if not entries:
                continue
            # The history more than two months back is the bureau's to file and confirm (a manager's word
            # alone would leave it awaiting the bureau); the recent months are the station manager's.
            # Judged as of tomorrow too: a demo loaded across the bureau's midnight at a month's turn would
            # otherwise have a manager file a month that is back-dated by the time it is confirmed.
            clerk = admin if backdated(month, today) or backdated(month, today + timedelta(days=1)) \
                else managers[name]
            report = clerk.post("/projects/v1/service-reports",
                                {"station_id": station_id, "month": month, "entries": entries})
            clerk.post(f"/projects/v1/service-reports/{report['id']}/confirm")
            filed += 1
        return filed

    # The stations file side by side, as they do at month end (the figures do not depend on the interleaving).
    with ThreadPoolExecutor(max_workers=4) as pool:
        result.reports = sum(pool.map(file_reports, stations.keys(), stations.values()))

    log("demo: waiting until the subsidy service has applied the events ...")
    applicants = newly[:APPLICANTS]
    wait_for_facts(admin, [p["worker_id"] for p in applicants])

    log("demo: subsidy applications and disbursements ...")
    # 14 approved applications, as in the report ("14 people have received ..."); worker1 (newly[0]) is left
    # to apply from the mobile client in the README tour.
    for person in applicants[1:]:
        manager = managers[person["所在社工站"]]
        application = manager.post("/subsidy/v1/applications", {"worker_id": person["worker_id"], "policy": POLICY})
        admin.post(f"/subsidy/v1/applications/{application['id']}/approve")
    accounts = record_accounts(admin, applicants[:-1])
    for month in BATCH_MONTHS:
        batch = admin.post("/subsidy/v1/disbursements", {"policy": POLICY, "month": month}, expect=(200, 201))
        if month == CYCLE_MONTH:
            pay_through_the_bank(admin, checker, batch["id"], accounts, people)
            continue
        # the bank pays one transfer per worker: marking one of a worker's lines marks the transfer
        marked = set()
        for line in admin.all(f"/subsidy/v1/disbursements/{batch['id']}/lines"):
            if line["kind"] != "recovery" and line["status"] == "pending" and line["worker_id"] not in marked:
                admin.post(f"/subsidy/v1/disbursements/{batch['id']}/lines/{line['id']}/mark", {"status": "paid"})
                marked.add(line["worker_id"])
    summary = admin.get("/subsidy/v1/reports/summary", params={"policy": POLICY, "from": SERVICE_FROM,
                                                               "to": SERVICE_THROUGH})
    result.paid_people, result.paid_fen = summary["people"], summary["total_fen"]

    log("demo: a micro-project fund call with projects in several states ...")
    load_projects(admin, managers, stations, people, today)
    return result


BANK = "中国农业银行鄂托克旗支行"


def record_accounts(admin: Api, people: list[dict]) -> dict[str, str]:
    """The bureau records each worker's account (verified at once); the numbers are made up, the same on every
    start. Returns worker id -> account number."""
    accounts = {p["worker_id"]: f"62170000{n:011d}" for n, p in enumerate(people, start=1)}
    for p in people:
        admin.post(f"/registry/v1/workers/{p['worker_id']}/bank-accounts", {
            "bank_name": BANK, "account_number": accounts[p["worker_id"]], "holder_name": p["姓名"]})
    return accounts


def pay_through_the_bank(admin: Api, checker: Api, batch_id: str, accounts: dict[str, str],
                         people: list[dict]) -> None:
    """One whole payment cycle: the notice, approval by a second bureau_admin, the release to the bank, and
    the bank's result file, where the transfer with the last sequence number fails (the account was closed).
    The bureau records that worker's new account; the next batch pays the failed months again, and those of a
    worker without an account (not released). The notice lasts no working day for this batch only (the
    policy's terms are set to 0 for its publication and put back): a demo cannot wait five working days."""
    url = f"/subsidy/v1/disbursements/{batch_id}"
    terms = f"/subsidy/v1/policies/{POLICY}/payment-terms"
    days = admin.get(terms)["notice_working_days"]
    admin.request("PUT", terms, json={"notice_working_days": 0})
    admin.post(f"{url}/publish")
    admin.request("PUT", terms, json={"notice_working_days": days})
    checker.post(f"{url}/approve")
    admin.post(f"{url}/release")
    names = {p["worker_id"]: p["姓名"] for p in people}
    transfers = admin.all(f"{url}/bank-payments")
    rows = [[str(t["seq"]), accounts[t["worker_id"]], names[t["worker_id"]], fen_to_yuan_str(t["amount_fen"]),
             "成功", ""] for t in transfers]
    rows[-1][4:] = ["失败", FAILURE_REASON]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([["序号", "账号", "户名", "金额", "结果", "失败原因"], *rows, [
        "合计", str(len(rows)), "", fen_to_yuan_str(sum(t["amount_fen"] for t in transfers)), "", ""]])
    admin.post(f"{url}/bank-results", content=buffer.getvalue().encode(), json=None,
               headers={"Content-Type": "text/csv"}, expect=201)
    failed = transfers[-1]["worker_id"]
    admin.post(f"/registry/v1/workers/{failed}/bank-accounts", {
        "bank_name": BANK, "account_number": f"62170001{len(accounts):011d}", "holder_name": names[failed]})


def wait_for_facts(admin: Api, worker_ids: list[str], *, timeout: float = 600.0) -> None:
    """Until every worker's last service month is payable in the subsidy service: that verdict needs the
    certificate, the registration and a full run of service months, and a worker's service months cross
    the broker in order (one key, one partition), so the last one applied means all were. A batch made
    earlier would pay whatever had arrived by then, and the figures would differ from start to start."""
    def settled(worker_id: str) -> bool:
        body = admin.get(f"/subsidy/v1/workers/{worker_id}/eligibility",
                         params={"policy": POLICY, "from": SERVICE_THROUGH, "through": SERVICE_THROUGH},
                         expect=(200, 404))
        return any(m["month"] == SERVICE_THROUGH and m["rule"] in ("payable", "cap_reached")
                   for m in body.get("months", []))

    pending = list(worker_ids)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [w for w in pending if not settled(w)]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"the subsidy service has not applied the demo's events within {timeout:.0f}s "
                               f"({len(pending)} of {len(worker_ids)} workers pending)")
        if pending:
            time.sleep(0.5)


def load_projects(admin: Api, managers: dict[str, Api], stations: dict[str, str], people: list[dict],
                  today: date) -> None:
    call = admin.post("/projects/v1/calls", {
        "year": today.year, "title": f"{today.year}年社区发展基金小微项目", "total_budget_fen": 50_000_000,
        "categories": ["elderly", "children", "hardship", "disability"],
        "window_opens": f"{today.year}-01-01", "window_closes": f"{today.year}-12-31", "division_code": DIVISION})
    plans = [  # (station, title, category, final state)
        ("乌兰镇社工站", "银龄互助 · 独居老人探访", "elderly", "in_progress"),
        ("棋盘井镇社工站", "困境儿童四点半课堂", "children", "completed"),
        ("蒙西镇社工站", "低保特困家庭生计支持", "hardship", "approved"),
        ("木凯淖尔镇社工站", "重残人员居家照护", "disability", "submitted"),
        ("苏米图苏木社工站", "留守老人互助小组", "elderly", "rejected"),
        ("阿尔巴斯苏木社工站", "空巢老人健康讲座", "elderly", "draft"),
    ]
    for station, title, category, final in plans:
        manager = managers[station]
        project = manager.post("/projects/v1/projects", {
            "call_id": call["id"], "station_id": stations[station], "lead_organization": station, "title": title,
            "category": category, "goals": f"{title}：每月开展服务", "requested_budget_fen": 2_000_000,
            "partners": [
                {"kind": "community", "name": f"{station[:-3]}社区", "role": "场地与动员", "contribution": "活动场地"},
                {"kind": "volunteer", "name": "社区志愿者服务队", "role": "入户探访", "contribution": "每周 20 小时"},
                {"kind": "charitable_resource", "name": "爱心企业", "role": "物资", "contribution": "米面油"}]})
        pid = project["id"]
        if final == "draft":
            continue
        manager.post(f"/projects/v1/projects/{pid}/submit")
        if final == "submitted":
            continue
        if final == "rejected":
            admin.post(f"/projects/v1/projects/{pid}/reject", {"reason": "与已有项目重复"})
            continue
        admin.post(f"/projects/v1/projects/{pid}/approve", {"approved_budget_fen": 1_800_000})
        if final == "approved":
            continue
        manager.post(f"/projects/v1/projects/{pid}/start")
        staff = [p["worker_id"] for p in people if p["所在社工站"] == station][:2]
        for day in (5, 19):
            manager.post(f"/projects/v1/projects/{pid}/activities", {
                "date": date(today.year, today.month, min(day, today.day)).isoformat(),
                "title": f"{title}（第{day}日）",
                "worker_ids": staff, "beneficiaries": {category: 12}, "volunteer_count": 6, "volunteer_hours": 18,
                "expense_fen": 80_000})
        if final == "completed":
            manager.post(f"/projects/v1/projects/{pid}/complete")


def load_demo_if_available(stack) -> DemoResult:
    """Called by `make run` once the services are ready."""
    from devstack.stack import SERVICES, STATE, dev_secrets  # noqa: PLC0415

    return load_demo(f"http://127.0.0.1:{SERVICES['gateway']}",
                     admin_password=dev_secrets()["GATEWAY_ADMIN_PASSWORD"], logins_file=STATE / "demo-logins.json")
