"""Bank accounts: the holder is the worker, the number encrypted and masked, a change by anyone but the bureau
waits for a bureau_admin, every change kept; clear payee data only for the listed service client."""

from __future__ import annotations

import uuid

from tests.registry.conftest import assert_masks_stored
from tests.registry.test_privacy import looks
from tests.support import assert_problem

ACCOUNT = "6222021234567891234"


def body(name: str, number: str = ACCOUNT, bank: str = "内蒙古农村信用社") -> dict:
    return {"bank_name": bank, "account_number": number, "holder_name": name}


async def test_the_bureau_records_an_account_masked_for_everyone_unless_unmasked(app_client, api, mint):
    station = await api.station()
    w = await api.worker(name="秦建", station_id=station["id"])
    url = f"/v1/workers/{w['id']}/bank-accounts"
    admin = mint.headers("bureau_admin", sub="admin-bank")
    assert_problem(await app_client.post(url, json=body("张三"), headers=admin), 422, field="holder_name")
    assert_problem(await app_client.post(url, json=body("秦建", "6222-12"), headers=admin), 422,
                   field="account_number")
    r = await app_client.post(url, json=body("秦建", "６２２２ 0212 3456 7891 234"), headers=admin)  # full-width
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "verified" and r.json()["account_number"] == "6222 **** **** 1234"
    manager = mint.headers("station_manager", station_ids=[station["id"]])
    for headers in (admin, mint.headers("auditor"), manager, mint.headers("social_worker", worker_id=w["id"]),
                    mint.headers("hr_system")):
        items = (await app_client.get(url, headers=headers, params={"unmask": "true", "purpose": "核对"})).json()
        if headers is admin:
            assert items["items"][0]["account_number"] == "6222021234567891234"
        else:
            assert items["items"][0]["account_number"] == "6222 **** **** 1234", items
    assert (await app_client.get(url, headers=admin)).json()["items"][0]["account_number"] == "6222 **** **** 1234"
    recorded = await looks(app_client.database_url, w["id"])
    assert [(r.subject, r.fields, r.purpose) for r in recorded] == [("admin-bank", "bank_account", "核对")]
    # someone else's account does not exist for a worker or another station's manager
    assert_problem(await app_client.get(url, headers=mint.headers("social_worker", worker_id=uuid.uuid4())), 404)
    assert_problem(await app_client.get(url, headers=mint.headers("station_manager", station_ids=[uuid.uuid4()])),
                   404)


async def test_a_change_by_anyone_else_waits_for_a_bureau_admin_and_every_change_is_kept(app_client, api, mint):
    station = await api.station()
    w = await api.worker(name="王芳", station_id=station["id"])
    url = f"/v1/workers/{w['id']}/bank-accounts"
    admin = mint.headers("bureau_admin", sub="admin-first")
    assert (await app_client.post(url, json=body("王芳", "6228480000000000017"), headers=admin)).json()["status"] \
        == "verified"
    manager = mint.headers("station_manager", sub="manager-bank", station_ids=[station["id"]])
    worker = mint.headers("social_worker", sub="worker-bank", worker_id=w["id"])
    # who may not ask at all (403), or not for this worker (404)
    assert_problem(await app_client.post(url, json=body("王芳"), headers=mint.headers("auditor")), 403)
    assert_problem(await app_client.post(url, json=body("王芳"), headers=mint.headers("service")), 403)
    assert_problem(await app_client.post(url, json=body("王芳"), headers=mint.headers(
        "station_manager", station_ids=[uuid.uuid4()])), 404)
    assert_problem(await app_client.post(url, json=body("王芳"), headers=mint.headers(
        "social_worker", worker_id=uuid.uuid4())), 404)
    first = (await app_client.post(url, json=body("王芳", "6222000011112222333"), headers=manager)).json()
    assert first["status"] == "pending"
    second = (await app_client.post(url, json=body("王芳", ACCOUNT), headers=worker)).json()
    assert second["status"] == "pending"  # supersedes the manager's pending change
    pending = (await app_client.get("/v1/bank-account-changes", headers=mint.headers("auditor"))).json()["items"]
    assert second["id"] in [p["id"] for p in pending] and first["id"] not in [p["id"] for p in pending]
    assert_problem(await app_client.get("/v1/bank-account-changes", headers=manager), 403)
    decide = f"{url}/{second['id']}"
    assert_problem(await app_client.post(f"{decide}/confirm", headers=manager), 403)
    assert_problem(await app_client.post(f"{decide}/confirm", headers=worker), 403)
    assert_problem(await app_client.post(f"{url}/{first['id']}/confirm", headers=admin), 409)  # superseded
    assert_problem(await app_client.post(f"/v1/workers/{uuid.uuid4()}/bank-accounts/{second['id']}/confirm",
                                         headers=admin), 404)
    # until confirmed, the look-up (what the services see) still has the old account
    lookup = await app_client.post("/v1/internal/workers/lookup", json={"worker_ids": [w["id"]]},
                                   headers=mint.headers("service"))
    assert lookup.json()["items"][0]["bank_account"] == "6228 **** **** 0017"
    confirmed = await app_client.post(f"{decide}/confirm", headers=mint.headers("bureau_admin", sub="admin-two"))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "verified"
    assert confirmed.json()["decided_by"] == "admin-two"
    assert_problem(await app_client.post(f"{decide}/reject", headers=admin), 409)  # decided once
    history = (await app_client.get(url, headers=admin)).json()["items"]
    assert [(h["status"], h["recorded_by"]) for h in history] == [
        ("superseded", "admin-first"), ("superseded", "manager-bank"), ("verified", "worker-bank")]
    lookup = await app_client.post("/v1/internal/workers/lookup", json={"worker_ids": [w["id"]]},
                                   headers=mint.headers("service"))
    assert lookup.json()["items"][0]["bank_account"] == "6222 **** **** 1234"
    # a rejected change leaves the account in use as it was
    hr = (await app_client.post(url, json=body("王芳", "6217000000000000001"), headers=mint.headers("hr_system")))
    assert hr.json()["status"] == "pending"
    rejected = await app_client.post(f"{url}/{hr.json()['id']}/reject", json={"reason": "not the worker's"},
                                     headers=admin)
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "not the worker's"
    statuses = [h["status"] for h in (await app_client.get(url, headers=admin)).json()["items"]]
    assert statuses == ["superseded", "superseded", "verified", "rejected"]
    await assert_masks_stored(app_client)  # every account's stored mask is its number's


async def test_account_lists_and_the_look_up_decrypt_nothing(app_client, api, mint, monkeypatch):
    w = await api.worker(name="李华")
    url = f"/v1/workers/{w['id']}/bank-accounts"
    admin = mint.headers("bureau_admin")
    assert (await app_client.post(url, json=body("李华", "6228480000000000025"), headers=admin)).status_code == 201
    assert (await app_client.post(url, json=body("李华", ACCOUNT), headers=mint.headers("hr_system"))).status_code \
        == 201

    def no_decryption(blob: bytes) -> str:
        raise AssertionError("a masked view decrypted a value")

    monkeypatch.setattr(app_client.app.state.cipher, "decrypt", no_decryption)
    history = (await app_client.get(url, headers=admin)).json()["items"]
    assert [h["account_number"] for h in history] == ["6228 **** **** 0025", "6222 **** **** 1234"]
    pending = (await app_client.get("/v1/bank-account-changes", headers=admin)).json()["items"]
    assert "6222 **** **** 1234" in [p["account_number"] for p in pending]
    lookup = await app_client.post("/v1/internal/workers/lookup", json={"worker_ids": [w["id"]]},
                                   headers=mint.headers("service"))
    assert lookup.json()["items"][0]["bank_account"] == "6228 **** **** 0025"


async def test_clear_payee_data_only_for_the_listed_service_client(app_client, api, mint):
    app_client.app.state.settings.payee_clients = frozenset({"svc-subsidy"})
    with_account = await api.worker(name="李娜")
    without = await api.worker(name="赵磊")
    renamed = await api.worker(name="刘洋")
    admin = mint.headers("bureau_admin")
    for w in (with_account, renamed):
        r = await app_client.post(f"/v1/workers/{w['id']}/bank-accounts", json=body(w["name"]), headers=admin)
        assert r.status_code == 201, r.text
    # a renamed worker's account no longer names its holder: not payable until a new account is recorded
    assert (await app_client.patch(f"/v1/workers/{renamed['id']}", json={"name": "刘洋洋"}, headers=admin)
            ).status_code == 200
    ids = [with_account["id"], without["id"], renamed["id"]]
    ask = {"worker_ids": ids, "purpose": "bank file of disbursement X"}
    for headers in (admin, mint.headers("service", sub="svc-projects", client_id="svc-projects"),
                    mint.headers("service"), mint.headers("auditor"), mint.headers("hr_system")):
        assert_problem(await app_client.post("/v1/internal/workers/payees", json=ask, headers=headers), 403)
    subsidy = mint.headers("service", sub="svc-subsidy", client_id="svc-subsidy")
    assert_problem(await app_client.post("/v1/internal/workers/payees", json={"worker_ids": ids}, headers=subsidy),
                   422, field="purpose")
    r = await app_client.post("/v1/internal/workers/payees", json=ask, headers=subsidy)
    assert r.status_code == 200, r.text
    payee = r.json()["items"]
    assert [(p["id"], p["name"], p["account_number"], p["holder_name"]) for p in payee] == [
        (with_account["id"], "李娜", ACCOUNT, "李娜")]
    assert len(payee[0]["id_number"]) == 18 and "*" not in payee[0]["id_number"]
    assert r.json()["without_account"] == [without["id"], renamed["id"]]
    recorded = await looks(app_client.database_url, with_account["id"])
    assert [(x.subject, x.fields, x.purpose) for x in recorded] == [
        ("svc-subsidy", "name,id_number,bank_account", "bank file of disbursement X")]
    assert await looks(app_client.database_url, without["id"]) == []


async def test_the_hr_import_takes_bank_columns_verified_for_the_bureau_pending_for_others(app_client, api, mint):
    import csv
    import io

    from tests.registry.conftest import new_id_number

    def sheet(rows: list[list[str]]) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["姓名", "身份证号", "开户银行", "银行账号"])
        writer.writerows(rows)
        return out.getvalue().encode()

    async def run(body: bytes, headers: dict) -> dict:
        r = await app_client.post("/v1/workers/import", content=body,
                                  headers={**headers, "Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        return r.json()

    first, second = new_id_number(), new_id_number()
    admin = mint.headers("bureau_admin", sub="import-admin")
    answer = await run(sheet([["郑一", first, "农业银行", "6228 4800 1234 5678 901"],
                              ["王二", second, "", "6228480012345678902"],
                              ["陈三", new_id_number(), "农业银行", "6.22848E+18"],
                              ["林四", new_id_number(), "农业银行", "62284"]]), admin)
    errors = {r["row"]: [(e["column"], e["field"]) for e in r["errors"]] for r in answer["results"]}
    assert errors == {1: [], 2: [("开户银行", "bank_name")], 3: [("银行账号", "account_number")],
                      4: [("银行账号", "account_number")]}
    worker = answer["results"][0]["worker_id"]
    url = f"/v1/workers/{worker}/bank-accounts"
    accounts = (await app_client.get(url, headers=admin)).json()["items"]
    assert [(a["status"], a["holder_name"], a["account_number"]) for a in accounts] == [
        ("verified", "郑一", "6228 **** **** 8901")]
    # the same file again changes nothing; an HR system's new account waits for the bureau
    again = await run(sheet([["郑一", first, "农业银行", "6228480012345678901"]]), admin)
    assert again["totals"]["unchanged"] == 1
    hr = await run(sheet([["郑一", first, "建设银行", "6217000012345678903"]]), mint.headers("hr_system"))
    assert hr["totals"]["updated"] == 1
    accounts = (await app_client.get(url, headers=admin)).json()["items"]
    assert [(a["status"], a["bank_name"]) for a in accounts] == [("verified", "农业银行"), ("pending", "建设银行")]
    await assert_masks_stored(app_client)  # the import stores the masks too
