"""The payment cycle of a batch in-process (subsidy and the real registry app): notice on a working-day calendar,
objections, approval by a second admin, release with bank files equal to golden files, the bank's results."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from services.registry.app import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from services.subsidy.payments.calendar import calendar
from shared.registry_client import RegistryClient
from shared.validators import id_number_check_char
from tests.subsidy.conftest import all_lines, approved, new_policy
from tests.support import assert_problem, fresh_database

GOLDEN = Path(__file__).with_name("golden")
SUBSIDY_CLIENT = "svc-subsidy"
# (name, birth date and serial of the ID number, bank account or None)
PEOPLE = [("张三丰", "19800101001", "6222021234567890011"), ("李四", "19810202002", "6228480011112222333"),
          ("欧阳晓峰", "19820303003", "6217000012345678905"), ("赵六", "19830404004", "6222600099998888777"),
          ("孙七", "19840505005", None), ("周八", "19850606006", "6222021000000000066"),
          ("吴九", "19860707007", "6222021000000000077")]


def id_number(birth_serial: str) -> str:
    first17 = "150624" + birth_serial[:8] + birth_serial[8:]
    return first17 + id_number_check_char(first17)


def test_the_working_day_calendar_counts_holidays_and_make_up_days():
    cal = calendar()
    assert not cal.is_working_day(date(2026, 10, 1))  # 国庆节
    assert cal.is_working_day(date(2026, 10, 10))  # a Saturday worked in exchange (调休上班)
    assert cal.is_working_day(date(2026, 2, 14)) and not cal.is_working_day(date(2026, 2, 23))
    # published on Wednesday 30 September 2026: 8, 9, 10 (Saturday, worked), 12, 13 October
    assert cal.notice(date(2026, 9, 30), 5) == (date(2026, 10, 13), date(2026, 10, 14))
    assert cal.notice(date(2026, 11, 30), 0) == (None, date(2026, 11, 30))
    assert not cal.is_working_day(date(2027, 2, 8))  # 2027: the statutory days (its arrangement is not out yet)
    assert_problem_like = pytest.raises(Exception, match="no year 2031")
    with assert_problem_like:
        cal.is_working_day(date(2031, 1, 1))


def test_the_printable_notice_escapes_what_it_prints():
    from services.subsidy.payments.service import mask_name, notice_html

    assert [mask_name(n) for n in ("张三", "张三丰", "欧阳晓峰", "李")] == ["张*", "张*丰", "欧**峰", "李"]
    item = {"name_masked": mask_name("<img src=x onerror=alert(1)>"), "id_number_masked": "150624**********17",
            "station": "<script>alert(1)</script>", "level": "assistant", "months": ["2026-10"], "amount_fen": 30000}
    page = notice_html({"month": "2026-10", "published_on": date(2026, 11, 30), "notice_ends_on": None,
                        "count": 1, "total_fen": 30000}, [item])
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img" not in page
    assert "助理社会工作师" in page and "300.00" in page


@pytest.fixture(scope="module")
async def registry(pg, mint):
    url = await fresh_database(pg, "registry")
    settings = RegistrySettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1", auth_jwks_json=mint.jwks_json,
                                env="test", run_relay=False, run_consumer=False,
                                payee_clients=frozenset({SUBSIDY_CLIENT}))
    app = create_registry_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def people(registry, mint) -> list[dict]:
    """The registry's workers of PEOPLE at one station, with their accounts recorded by the bureau."""
    admin = mint.headers("bureau_admin", sub="registry-admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=registry), base_url="http://registry") as reg:
        station = (await reg.post("/v1/stations", json={"name": "乌兰镇社工站", "kind": "township",
                                                         "division_code": "150624100"}, headers=admin)).json()
        out = []
        for name, birth, account in PEOPLE:
            r = await reg.post("/v1/workers", headers=admin, json={
                "name": name, "id_number": id_number(birth), "employment": {
                    "station_id": station["id"], "start_date": "2022-01-01", "full_time": True, "role": "社工"}})
            assert r.status_code == 201, r.text
            if account:
                a = await reg.post(f"/v1/workers/{r.json()['id']}/bank-accounts", headers=admin, json={
                    "bank_name": "农业银行", "account_number": account, "holder_name": name})
                assert a.status_code == 201, a.text
            out.append({**r.json(), "account": account})
    return out


@pytest.fixture
def wired(client, registry, mint):
    """The subsidy app calls the registry in-process with the subsidy service's own client id."""
    async def token():
        return mint.token("service", sub=SUBSIDY_CLIENT, client_id=SUBSIDY_CLIENT)

    client.app.state.registry = RegistryClient(base_url="http://registry", token_source=token,
                                               transport=httpx.ASGITransport(app=registry))
    yield client
    client.app.state.registry = None
    client.app.state.today = None


def on(client, day: date) -> None:
    client.app.state.today = lambda: day


def result_file(rows: list[tuple], *, total_fen: int | None = None, encoding: str = "utf-8") -> bytes:
    """The bank's answer: 序号, 账号, 户名, 金额, 结果, 失败原因 and the control row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["序号", "账号", "户名", "金额", "结果", "失败原因"])
    for seq, account, name, fen, result, reason in rows:
        writer.writerow([seq, account, name, f"{fen / 100:.2f}", result, reason])
    total = sum(r[3] for r in rows) if total_fen is None else total_fen
    writer.writerow(["合计", len(rows), "", f"{total / 100:.2f}", "", ""])
    return buffer.getvalue().encode(encoding)


async def lines_of(client, admin, batch_id, worker_id) -> list[tuple]:
    return [(x["month"], x["kind"], x["amount_fen"], x["status"], x["failure_reason"])
            for x in await all_lines(client, admin, batch_id) if x["worker_id"] == worker_id]


async def test_a_whole_cycle_notice_objections_release_bank_files_and_results(wired, events, mint, admin, people):
    client = wired
    policy = await new_policy(client)
    for p in people:
        await events.worked_example(uuid.UUID(p["id"]), through="2024-01")
        await approved(client, mint, p["id"], policy)
    created = await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-01"}, headers=admin)
    assert created.status_code == 201, created.text
    batch = created.json()["id"]
    url = f"/v1/disbursements/{batch}"
    second = mint.headers("bureau_admin", sub="second-admin")
    ids = {p["name"]: p["id"] for p in people}
    assert (await client.get(f"{url}/cycle", headers=admin)).json()["status"] == "draft"

    # the notice: 5 working days from Wednesday 30 September 2026 (the National Day week does not count)
    assert (await client.get(f"/v1/policies/{policy}/payment-terms", headers=admin)).json()[
        "notice_working_days"] == 5
    for role in ("auditor", "station_manager", "social_worker"):
        assert_problem(await client.post(f"{url}/publish", headers=mint.headers(role)), 403)
    assert_problem(await client.get(f"{url}/notice", headers=admin), 409, field="status")  # draft: no notice
    on(client, date(2026, 9, 30))
    published = (await client.post(f"{url}/publish", headers=admin)).json()
    assert (published["status"], published["notice_ends_on"], published["approvable_on"]) == (
        "on_notice", "2026-10-13", "2026-10-14")
    assert_problem(await client.post(f"{url}/publish", headers=admin), 409, field="status")  # once
    notice = (await client.get(f"{url}/notice", headers=admin)).json()
    assert (notice["count"], notice["total_fen"]) == (7, 7 * 60000)
    zhang = next(i for i in notice["items"] if i["worker_id"] == ids["张三丰"])
    assert (zhang["name_masked"], zhang["station"], zhang["level"], zhang["months"], zhang["amount_fen"]) == (
        "张*丰", "乌兰镇社工站", "assistant", ["2023-12", "2024-01"], 60000)
    assert zhang["id_number_masked"] == "150624**********" + id_number(PEOPLE[0][1])[-2:]
    assert {i["name_masked"] for i in notice["items"]} >= {"李*", "欧**峰"}
    page = await client.get(f"{url}/notice", params={"format": "html"}, headers=admin)
    assert page.headers["content-type"].startswith("text/html") and "张*丰" in page.text
    assert "张三丰" not in page.text and "<script" not in page.text
    rows = list(csv.reader(io.StringIO((await client.get(f"{url}/notice", params={"format": "csv"},
                                                           headers=admin)).content.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "身份证号", "社工站", "证书等级", "发放月份", "金额(元)"]
    assert rows[-1] == ["合计", "7人", "", "", "", "4200.00"]

    # objections: the worker themselves, or a manager who sees them; a worker cannot object for someone else
    line_of = {i["worker_id"]: i["line_id"] for i in notice["items"]}
    me = mint.headers("social_worker", worker_id=ids["周八"])
    assert_problem(await client.post(f"{url}/lines/{line_of[ids['吴九']]}/objection", json={"reason": "x"},
                                     headers=me), 404)
    assert_problem(await client.post(f"{url}/lines/{line_of[ids['周八']]}/objection", json={"reason": ""},
                                     headers=me), 422, field="reason")
    held = (await client.post(f"{url}/lines/{line_of[ids['周八']]}/objection", json={"reason": "金额有误"},
                              headers=me)).json()
    upheld = (await client.post(f"{url}/lines/{line_of[ids['吴九']]}/objection", json={"reason": "已离职"},
                                headers=admin)).json()
    dismissed = (await client.post(f"{url}/lines/{line_of[ids['赵六']]}/objection", json={"reason": "匿名举报"},
                                   headers=admin)).json()
    assert held["status"] == "open"
    assert_problem(await client.post(f"{url}/objections/{upheld['id']}/uphold", headers=me), 403)
    assert (await client.post(f"{url}/objections/{upheld['id']}/uphold", json={"reason": "核实已离职"},
                              headers=second)).json()["status"] == "upheld"
    assert_problem(await client.post(f"{url}/objections/{upheld['id']}/dismiss", headers=second), 409)
    assert (await client.post(f"{url}/objections/{dismissed['id']}/dismiss", headers=second)).json()[
        "status"] == "dismissed"
    assert {s for *_, s, _ in await lines_of(client, admin, batch, ids["吴九"])} == {"voided"}  # upheld: voided
    # a line of a published batch is not marked by hand
    assert_problem(await client.post(f"{url}/lines/{line_of[ids['李四']]}/mark", json={"status": "paid"},
                                     headers=admin), 409, field="status")

    # approval: a second bureau_admin, after the notice
    on(client, date(2026, 10, 13))
    refused = assert_problem(await client.post(f"{url}/approve", headers=second), 409)
    assert "2026-10-13" in refused["detail"] and refused["approvable_on"] == "2026-10-14"
    on(client, date(2026, 10, 14))
    assert_problem(await client.post(f"{url}/approve", headers=admin), 403)  # the batch's creator
    assert_problem(await client.post(f"{url}/approve", headers=mint.headers("auditor")), 403)
    assert_problem(await client.post(f"{url}/release", headers=second), 409, field="status")  # not approved yet
    assert_problem(await client.get(f"{url}/bank-file", params={"template": "generic-csv"}, headers=admin), 409)
    assert (await client.post(f"{url}/approve", headers=second)).json()["status"] == "approved"
    assert_problem(await client.post(f"{url}/approve", headers=second), 409, field="status")

    # release: 孙七 has no account, 周八's objection is still open: both held out and listed
    for role in ("auditor", "station_manager", "social_worker"):
        assert_problem(await client.post(f"{url}/release", headers=mint.headers(role)), 403)
    released = await client.post(f"{url}/release", headers=admin)
    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["status"], body["bank_count"], body["bank_total_fen"]) == ("released", 4, 240000)
    assert sorted((x["worker_id"], x["reason"]) for x in body["not_released"]) == sorted(
        [(ids["孙七"], "no verified bank account"), (ids["周八"], "objection open")])
    assert body["templates_unavailable"] == {}
    assert_problem(await client.post(f"{url}/release", headers=admin), 409, field="status")
    for name in ("孙七", "周八"):
        assert {(s, r) for *_, s, r in await lines_of(client, admin, batch, ids[name])} == {
            ("voided", "not released: " + ("no verified bank account" if name == "孙七" else "objection open"))}
    assert_problem(await client.post(f"{url}/lines/{line_of[ids['李四']]}/objection", json={"reason": "late"},
                                     headers=admin), 409)  # released: no more objections
    # what was sent to the bank is not settled again (voided) by a later batch before the bank answered
    assert_problem(await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-02"},
                                     headers=admin), 409, field="month")

    # bank files: bureau_admin only, the same bytes every time, equal to the golden files
    for role in ("auditor", "station_manager", "social_worker", "service"):
        assert_problem(await client.get(f"{url}/bank-file", params={"template": "generic-csv"},
                                        headers=mint.headers(role)), 403)
    assert_problem(await client.get(f"{url}/bank-file", params={"template": "swift"}, headers=admin), 404)
    for template, golden in (("generic-csv", "bank-generic.csv"), ("generic-xlsx", "bank-generic.xlsx"),
                             ("legacy-gbk", "bank-legacy-gbk.txt")):
        first = await client.get(f"{url}/bank-file", params={"template": template}, headers=admin)
        assert first.status_code == 200, first.text
        again = await client.get(f"{url}/bank-file", params={"template": template}, headers=admin)
        assert first.content == again.content
        digest = hashlib.sha256(first.content).hexdigest()
        assert first.headers["x-content-sha256"] == digest == body["bank_files"][template]
        if os.environ.get("UPDATE_GOLDEN"):
            (GOLDEN / golden).write_bytes(first.content)
        assert first.content == (GOLDEN / golden).read_bytes(), template
    table = list(csv.reader(io.StringIO((GOLDEN / "bank-generic.csv").read_bytes().decode("utf-8-sig"))))
    assert table[0] == ["序号", "姓名", "账号", "金额", "身份证号"]
    assert table[-1] == ["合计", "", "4", "2400.00", ""]
    sheet = load_workbook(GOLDEN / "bank-generic.xlsx").active
    assert [c.value for c in sheet[2]][:4] == ["1", "张三丰", "6222021234567890011", "600.00"]
    legacy = (GOLDEN / "bank-legacy-gbk.txt").read_bytes().decode("gbk").split("\r\n")
    assert legacy[0] == "00000004" + "0" * 10 + "240000" and "欧阳晓峰" in legacy[3]

    # the bank's results: sequence numbers as released (by ID number)
    payments = (await client.get(f"{url}/bank-payments", headers=admin)).json()["items"]
    seq = {p["worker_id"]: p["seq"] for p in payments}
    assert [p["account_masked"] for p in payments][0] == "6222 **** **** 0011"
    account = {p["id"]: p["account"] for p in people}
    name = {p["id"]: p["name"] for p in people}

    def row(who: str, result: str = "成功", reason: str = "") -> tuple:
        w = ids[who]
        return (seq[w], account[w], name[w], 60000, result, reason)

    answer = [row("张三丰"), row("李四"), row("欧阳晓峰"), row("赵六", "失败", "账户已销户"),
              (99, "6222000000000000999", "不明", 12345, "成功", "")]
    for role in ("auditor", "station_manager", "social_worker"):
        assert_problem(await client.post(f"{url}/bank-results", content=result_file(answer),
                                         headers=mint.headers(role)), 403)
    # a control total one fen off: the whole file is refused and nothing changes
    off = await client.post(f"{url}/bank-results", content=result_file(answer, total_fen=4 * 60000 + 12345 + 1),
                            headers=admin)
    assert_problem(off, 422, field="file")
    assert {p["status"] for p in (await client.get(f"{url}/bank-payments", headers=admin)).json()["items"]} == {
        "sent"}
    applied = await client.post(f"{url}/bank-results", content=result_file(answer, encoding="gbk"), headers=admin)
    assert applied.status_code == 201, applied.text
    report = applied.json()
    assert (report["paid"], report["failed"], report["unchanged"], report["status"]) == (3, 1, 0, "settled")
    assert [(u["seq"], u["row"]) for u in report["unmatched"]] == [(99, 6)]
    replay = await client.post(f"{url}/bank-results", content=result_file(answer, encoding="gbk"), headers=admin)
    assert replay.status_code == 200 and replay.json() == {**report, "replayed": True}
    states = {p["worker_id"]: (p["status"], p["failure_reason"])
              for p in (await client.get(f"{url}/bank-payments", headers=admin)).json()["items"]}
    assert states == {ids["张三丰"]: ("paid", None), ids["李四"]: ("paid", None), ids["欧阳晓峰"]: ("paid", None),
                      ids["赵六"]: ("failed", "账户已销户")}
    assert {s for *_, s, _ in await lines_of(client, admin, batch, ids["李四"])} == {"paid"}
    assert {(s, r) for *_, s, r in await lines_of(client, admin, batch, ids["赵六"])} == {("failed", "账户已销户")}
    assert (await client.get(f"{url}/cycle", headers=admin)).json()["status"] == "settled"

    # workers told once per batch and event, also after the replay
    told = (await client.get(f"/v1/workers/{ids['赵六']}/notifications",
                             headers=mint.headers("social_worker", worker_id=ids["赵六"]))).json()["items"]
    assert [(n["event"], n["reason"]) for n in told] == [("on_notice", None), ("failed", "账户已销户")]
    assert [n["event"] for n in (await client.get(f"/v1/workers/{ids['李四']}/notifications",
                                                  headers=admin)).json()["items"]] == ["on_notice", "paid"]
    assert_problem(await client.get(f"/v1/workers/{ids['李四']}/notifications",
                                    headers=mint.headers("social_worker", worker_id=ids["赵六"])), 404)

    # the next batch: the failed, voided and held-out months are due again as new attempts; paid ones are not
    following = (await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-02"},
                                   headers=admin)).json()["id"]
    for who in ("赵六", "孙七", "周八", "吴九"):
        assert [(m, k, f) for m, k, f, *_ in await lines_of(client, admin, following, ids[who])] == [
            ("2023-12", "subsidy", 30000), ("2024-01", "subsidy", 30000)], who
    for who in ("张三丰", "李四", "欧阳晓峰"):  # paid: never again (no service month after 2024-01 was told)
        assert await lines_of(client, admin, following, ids[who]) == [], who


async def test_webhooks_are_signed_retried_and_sent_once_per_notification(wired, events, mint, admin, people):
    import base64
    import hmac
    import json
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from services.subsidy.payments.webhooks import deliver_due

    client = wired
    received, answers = [], [500]
    sessions = client.app.state.sessionmaker

    async def hook(request):
        received.append((dict(request.headers), await request.body()))
        # the sender holds no transaction while the request is out: its row is not locked, and another sender
        # does not take it (it is claimed)
        async with sessions() as session, session.begin():
            msg_id = request.headers["webhook-id"].removeprefix("msg_")
            await session.execute(text("SELECT id FROM webhook_deliveries WHERE id = :id FOR UPDATE NOWAIT"),
                                  {"id": uuid.UUID(msg_id)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://x") as other:
            assert await deliver_due(sessions, other) == 0
        return Response(status_code=answers.pop(0) if answers else 204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    assert_problem(await client.post("/v1/webhooks", json={"url": "http://receiver/hook"},
                                     headers=mint.headers("auditor")), 403)
    assert_problem(await client.post("/v1/webhooks", json={"url": "ftp://receiver/hook"}, headers=admin), 422,
                   field="url")
    created = await client.post("/v1/webhooks", json={"url": "http://receiver/hook", "description": "HR"},
                                headers=admin)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and "secret" not in (await client.get("/v1/webhooks", headers=admin)).json()[
        "items"][0]

    policy = await new_policy(client)
    worker = next(p for p in people if p["name"] == "李四")
    await approved(client, mint, worker["id"], policy)
    assert (await client.put(f"/v1/policies/{policy}/payment-terms", json={"notice_working_days": 0},
                             headers=admin)).status_code == 200
    batch = (await client.post("/v1/disbursements", json={"policy": policy, "month": "2024-01"},
                               headers=admin)).json()["id"]
    url = f"/v1/disbursements/{batch}"
    on(client, date(2026, 11, 30))
    assert (await client.post(f"{url}/publish", headers=admin)).status_code == 200
    assert (await client.post(f"{url}/approve", headers=mint.headers("bureau_admin"))).status_code == 200
    assert (await client.post(f"{url}/release", headers=admin)).json()["bank_count"] == 1
    answer = result_file([(1, worker["account"], "李四", 60000, "成功", "")])
    for _ in range(2):  # the second time is a replay: no new notification, no new message
        assert (await client.post(f"{url}/bank-results", content=answer, headers=admin)).status_code in (200, 201)

    now = datetime.now(UTC)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://receiver") as http:
        assert await deliver_due(sessions, http, now=now) == 2  # on notice, paid
        assert await deliver_due(sessions, http, now=now) == 0  # the one refused waits for its backoff
        retried = await deliver_due(sessions, http, now=now + timedelta(minutes=1))
    deliveries = (await client.get(f"/v1/webhooks/{created.json()['id']}/deliveries", headers=admin)).json()["items"]
    assert retried == 1, [(d["attempts"], d["last_status"], d["last_error"]) for d in deliveries]
    assert sorted((d["payload"]["type"], d["status"]) for d in deliveries) == [
        ("payment.on_notice", "delivered"), ("payment.paid", "delivered")]
    assert sorted(d["attempts"] for d in deliveries) == [1, 2]
    # the retry carries the same webhook-id; every signature verifies with the secret (Standard Webhooks)
    ids = [h["webhook-id"] for h, _ in received]
    assert len(ids) == 3 and len(set(ids)) == 2
    key = base64.b64decode(secret.removeprefix("whsec_"))
    for headers, body in received:
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, "sha256").digest()).decode()
        assert headers["webhook-signature"] == f"v1,{expected}"
        data = json.loads(body)["data"]
        assert data["worker_id"] == worker["id"] and "李四" not in body.decode()


async def test_webhooks_never_reach_internal_addresses_in_production(wired, mint, admin):
    """SSRF: outside dev and test a subscription's host must resolve to public addresses only, when subscribing
    and again when sending (a name may resolve elsewhere later); the secret is never shown again."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from services.subsidy.payments import webhooks
    from services.subsidy.payments.models import Notification, WebhookDelivery

    internal = ["https://127.0.0.1/h", "https://10.1.2.3/h", "https://192.168.0.7:8443/h", "https://172.16.0.1/h",
                "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/h", "https://0.0.0.0/h",
                "https://[::1]/h", "https://[fe80::1]/h", "https://[fd00::1]/h", "https://[::ffff:127.0.0.1]/h",
                "https://localhost/h", "https://224.0.0.1/h"]
    for url in internal:
        with pytest.raises(webhooks.Invalid) as refused:
            await webhooks.check_subscription_url(url, env="prod")
        assert refused.value.field == "url" and "public" in str(refused.value), url
    with pytest.raises(webhooks.Invalid):
        await webhooks.check_subscription_url("http://93.184.216.34/h", env="prod")  # https only
    assert await webhooks.check_subscription_url("https://93.184.216.34/h", env="prod") == "https://93.184.216.34/h"
    assert await webhooks.check_subscription_url("http://127.0.0.1:9/h", env="test") == "http://127.0.0.1:9/h"

    settings = wired.app.state.settings
    wired.app.state.settings = settings.model_copy(update={"env": "prod"})
    try:
        assert_problem(await wired.post("/v1/webhooks", json={"url": "https://169.254.169.254/"}, headers=admin),
                       422, field="url")
    finally:
        wired.app.state.settings = settings

    # subscribed where internal addresses are allowed (or resolving elsewhere since): production's sender does
    # not send, it records the refusal and retries later
    since = datetime.now(UTC).isoformat()
    created = await wired.post("/v1/webhooks", json={"url": "http://localhost:9/hook"}, headers=admin)
    assert created.status_code == 201
    hook_id = created.json()["id"]
    listed = [w for w in (await wired.get("/v1/webhooks", headers=admin)).json()["items"] if w["id"] == hook_id]
    disabled = await wired.post(f"/v1/webhooks/{hook_id}/disable", headers=admin)
    assert listed and "secret" not in listed[0] and "secret" not in disabled.json()
    trail = await wired.get("/v1/audit", params={"from": since, "limit": 200}, headers=admin)
    assert hook_id in trail.text and created.json()["secret"] not in trail.text

    sessions = wired.app.state.sessionmaker
    async with sessions() as session, session.begin():
        notification = (await session.scalars(select(Notification).limit(1))).one()
        await session.execute(webhooks.update(webhooks.WebhookSubscription).values(active=False).where(
            webhooks.WebhookSubscription.id != uuid.UUID(hook_id)))
        await session.execute(webhooks.update(webhooks.WebhookSubscription).values(active=True).where(
            webhooks.WebhookSubscription.id == uuid.UUID(hook_id)))
        await webhooks.enqueue(session, [{c: getattr(notification, c) for c in (
            "id", "worker_id", "disbursement_id", "month", "event", "amount_fen", "reason")}])
    sent = []
    receiver = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(204))
    async with httpx.AsyncClient(transport=receiver) as http:
        assert await webhooks.deliver_due(sessions, http, now=datetime.now(UTC), check_address=True) == 1
    assert sent == []
    async with sessions() as session:
        delivery = (await session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == uuid.UUID(hook_id)))).one()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, None)
    assert delivery.last_error.startswith("refused: localhost resolves to an address that is not public")
