"""HR bulk import: the real sample export, other formats, bad files, idempotency and station scoping."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.registry.conftest import assert_masks_stored, new_id_number, new_phone
from tests.support import assert_problem

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hr-export-sample.csv"
TOWNSHIPS = ["乌兰镇社工站", "棋盘井镇社工站", "蒙西镇社工站", "木凯淖尔镇社工站", "苏米图苏木社工站",
             "阿尔巴斯苏木社工站"]
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["姓名", "身份证号", "性别", "出生日期", "手机号", "学历", "政治面貌", "所在社工站", "岗位", "是否专职",
          "入职日期", "证书等级", "证书编号", "取得日期"]


async def counts(url: str) -> dict:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                    for t in ("workers", "employments", "certificates", "outbox", "import_requests")}
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def townships(app_client, api):
    centre = await api.station("鄂托克旗社工服务指导中心", kind="centre")
    stations = {}
    for name in TOWNSHIPS:
        extra = {"star_rating": 10} if name == "乌兰镇社工站" else {}
        stations[name] = (await api.station(name, parent_id=centre["id"], **extra))["id"]
    return stations


def csv_bytes(rows: list[list[str]], *, bom: bool = True, header=HEADER) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def person(station="乌兰镇社工站", *, level="助理社会工作师", obtained="2021-05-01") -> list[str]:
    idn = new_id_number()
    birth = idn[6:14]
    return ["测试人", idn, "男", f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", new_phone(), "本科", "群众", station,
            "社工站社工", "是", "2022-01-01", level, f"C{uuid.uuid4().hex[:10]}" if level else "",
            obtained if level else ""]


async def test_sample_export_imports_55_rows_and_reports_5(app_client, api, mint, townships):
    url = app_client.database_url
    before = await counts(url)
    body = await asyncio.to_thread(SAMPLE.read_bytes)
    r = await app_client.post("/v1/workers/import", content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["totals"] == {"rows": 60, "created": 55, "updated": 0, "unchanged": 0, "needs_review": 0,
                               "error": 5}
    errors = {x["row"]: x["errors"] for x in answer["results"] if x["status"] == "error"}
    assert sorted(errors) == [11, 21, 31, 41, 51]
    columns = {row: {e["column"] for e in errs} for row, errs in errors.items()}
    assert "身份证号" in columns[11] and "check digit" in errors[11][0]["reason"]
    assert any(e["column"] == "身份证号" and "duplicate" in e["reason"] for e in errors[21])
    assert any(e["column"] == "出生日期" and "not a real date" in e["reason"] for e in errors[31])
    assert any(e["column"] == "证书等级" and "社工证" in e["reason"] for e in errors[41])
    assert any(e["column"] == "取得日期" and "future" in e["reason"] for e in errors[51])
    assert all(x["worker_id"] for x in answer["results"] if x["status"] == "created")
    lines = body.decode("utf-8-sig").splitlines()[1:]
    with_cert = sum(1 for n, line in enumerate(lines, start=1) if line.split(",")[11] and n not in errors)
    after = await counts(url)
    assert after["workers"] - before["workers"] == 55
    assert after["employments"] - before["employments"] == 55
    # every good row with a certificate got one, and one certificate-issued event in the outbox
    assert after["certificates"] - before["certificates"] == with_cert > 30
    assert after["outbox"] - before["outbox"] == after["certificates"] - before["certificates"]

    # the same file again changes nothing
    r = await app_client.post("/v1/workers/import", content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    assert r.json()["totals"] == {"rows": 60, "created": 0, "updated": 0, "unchanged": 55, "needs_review": 0,
                                      "error": 5}
    assert await counts(url) == after

    # imported people are readable, masked for everyone but bureau_admin
    first = answer["results"][0]["worker_id"]
    r = await app_client.get(f"/v1/workers/{first}", headers=mint.headers("auditor"))
    assert r.json()["id_number"] == "150624**********17" and r.json()["phone"] == "133****1984"
    r = await app_client.get(f"/v1/workers/{first}", headers=api.admin, params={"unmask": "true", "purpose": "test"})
    assert r.json()["id_number"] == "150624197406182317" and r.json()["gender"] == "male"
    r = await app_client.get("/v1/workers", headers=api.admin,
                             params={"station_id": townships["乌兰镇社工站"], "level": "assistant", "limit": 500})
    assert r.json()["items"] and all(w["id"] for w in r.json()["items"])


async def test_update_and_json_and_xlsx(app_client, api, townships):
    url = app_client.database_url
    rows = [person(), person("蒙西镇社工站", level="")]
    r = await app_client.post("/v1/workers/import", content=csv_bytes(rows, bom=False),
                              headers={**api.admin, "Content-Type": "text/csv; charset=utf-8"})
    assert [x["status"] for x in r.json()["results"]] == ["created", "created"]
    # JSON with English names: a new certificate for the second person updates them
    items = [{"name": "测试人", "id_number": rows[1][1], "station": "蒙西镇社工站", "start_date": "2022-01-01",
              "full_time": True, "role": "社工站社工", "level": "intermediate", "certificate_no": "J-1",
              "obtained_on": "2023-02-03", "phone": rows[1][4]}]
    before = await counts(url)
    r = await app_client.post("/v1/workers/import", json=items, headers=api.admin)
    assert r.json()["results"][0]["status"] == "updated", r.text
    assert (await counts(url))["certificates"] == before["certificates"] + 1
    # XLSX with dates as cells
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    row = person("棋盘井镇社工站")
    ws.append(row[:10] + [date(2022, 1, 1)] + row[11:13] + [datetime(2021, 5, 1)])
    ws.append(["坏行", "123", "男"])
    buf = io.BytesIO()
    wb.save(buf)
    r = await app_client.post("/v1/workers/import", content=buf.getvalue(),
                              headers={**api.admin, "Content-Type": XLSX_TYPE})
    results = r.json()["results"]
    assert results[0]["status"] == "created", results
    assert results[1]["status"] == "error" and results[1]["errors"][0]["column"] == "身份证号"
    assert await assert_masks_stored(app_client) >= 3  # created by COPY, updated by the upsert


@pytest.mark.parametrize("body,content_type,status,field", [
    (b"\xff\xfe\x00\xd8", CSV_TYPE, 422, "encoding"),
    ("姓名,身份证号\r\n张三,150624197406182317\r\n".encode("gbk"), "text/csv; charset=big5", 422, "encoding"),
    (b"name;id\r\n", CSV_TYPE, 422, "header"),
    (b'\xef\xbb\xbf\xe5\xa7\x93\xe5\x90\x8d,id_number\r\n"unterminated,1\r\n', CSV_TYPE, 422, "file"),
    (b"PK\x03\x04 not really a workbook", XLSX_TYPE, 422, "file"),
    (b'{"name": "x"}', "application/json", 422, "body"),
    (b"[1, 2", "application/json", 400, "body"),  # malformed: a 400
    (b"name,id_number\n", "text/plain", 415, "Content-Type"),
    (b"", CSV_TYPE, 422, "body"),
])
async def test_bad_files_write_nothing(app_client, api, townships, body, content_type, status, field):
    before = await counts(app_client.database_url)
    r = await app_client.post("/v1/workers/import", content=body,
                              headers={**api.admin, "Content-Type": content_type, "Idempotency-Key": "bad"})
    assert_problem(r, status, field=field)
    assert await counts(app_client.database_url) == before


async def test_malformed_rows_are_row_errors(app_client, api, townships):
    good = person()
    body = csv_bytes([good, ["只有", "两格"], person("不存在的社工站"), person(obtained="2021-02-30"),
                      [*person()[:9], "也许", *person()[10:]]])
    r = await app_client.post("/v1/workers/import", content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["created", "error", "error", "error", "error"]
    assert res[1]["errors"][0]["column"] == "*" and "cells" in res[1]["errors"][0]["reason"]
    assert res[2]["errors"][0] == {"column": "所在社工站", "field": "station",
                                   "reason": "unknown station 不存在的社工站"}
    assert res[3]["errors"][0]["column"] == "取得日期"
    assert res[4]["errors"][0]["column"] == "是否专职"


async def test_idempotency_key_returns_first_answer(app_client, api, townships):
    url = app_client.database_url
    body = csv_bytes([person(), person()])
    headers = {**api.admin, "Content-Type": CSV_TYPE, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await app_client.post("/v1/workers/import", content=body, headers=headers)
    after_first = await counts(url)
    again = await app_client.post("/v1/workers/import", content=body, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert [x["status"] for x in again.json()["results"]] == ["created", "created"]
    assert await counts(url) == after_first
    other = await app_client.post("/v1/workers/import", content=csv_bytes([person()]), headers=headers)
    assert_problem(other, 422, field="Idempotency-Key")


async def test_station_manager_imports_only_into_own_stations(app_client, api, mint, townships):
    a, b = townships["木凯淖尔镇社工站"], townships["苏米图苏木社工站"]
    manager = mint.headers("station_manager", station_ids=[a])
    mine, theirs = person("木凯淖尔镇社工站"), person("苏米图苏木社工站")
    r = await app_client.post("/v1/workers/import", content=csv_bytes([mine, theirs]),
                              headers={**manager, "Content-Type": CSV_TYPE})
    res = r.json()["results"]
    assert res[0]["status"] == "created"
    assert res[1]["status"] == "error" and res[1]["errors"][0]["column"] == "所在社工站"
    # a worker of station B (imported by the bureau) cannot be updated by A's manager through an import
    r = await app_client.post("/v1/workers/import", content=csv_bytes([theirs]),
                              headers={**api.admin, "Content-Type": CSV_TYPE})
    theirs_id = r.json()["results"][0]["worker_id"]
    moved = [*theirs[:7], "木凯淖尔镇社工站", *theirs[8:]]
    r = await app_client.post("/v1/workers/import", content=csv_bytes([moved]),
                              headers={**manager, "Content-Type": CSV_TYPE})
    assert r.json()["results"][0]["status"] == "error"
    r = await app_client.get(f"/v1/workers/{theirs_id}", headers=manager)
    assert_problem(r, 404)
    r = await app_client.get("/v1/workers", headers=manager, params={"station_id": b})
    assert r.json()["items"] == []
    r = await app_client.post("/v1/workers/import", content=csv_bytes([mine]),
                              headers={**mint.headers("auditor"), "Content-Type": CSV_TYPE})
    assert_problem(r, 403)


async def test_json_body_english_fields(app_client, api, townships):
    before = await counts(app_client.database_url)
    r = await app_client.post("/v1/workers/import", headers={**api.admin, "Content-Type": "application/json"},
                              content=json.dumps([{"name": "甲", "id_number": new_id_number(), "unknown": 1},
                                                  "not an object", {"name": "乙", "id_number": "150624199001011234"}]))
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["error", "error", "error"]
    assert "unknown" in res[0]["errors"][0]["reason"]
    assert res[2]["errors"][0]["column"] == "id_number"
    assert await counts(app_client.database_url) == before


async def test_hr_import_refuses_overlapping_full_time_employment(app_client, api, mint, townships):
    hr = {**mint.headers("hr_system"), "Content-Type": CSV_TYPE}
    first = person("乌兰镇社工站")
    r = await app_client.post("/v1/workers/import", content=csv_bytes([first]), headers=hr)
    assert r.json()["results"][0]["status"] == "created"
    before = await counts(app_client.database_url)
    moved = [*first[:7], "蒙西镇社工站", "社工站社工", "是", "2023-01-01", *first[11:]]
    r = await app_client.post("/v1/workers/import", content=csv_bytes([moved]), headers=hr)
    result = r.json()["results"][0]
    assert result["status"] == "error" and result["errors"][0]["column"] == "入职日期"
    part_time = [*first[:7], "蒙西镇社工站", "督导", "否", "2023-01-01", *first[11:]]
    r = await app_client.post("/v1/workers/import", content=csv_bytes([part_time]), headers=hr)
    assert r.json()["results"][0]["status"] == "updated"
    after = await counts(app_client.database_url)
    assert after["employments"] == before["employments"] + 1 and after["workers"] == before["workers"]


async def test_openapi_lists_operations(app_client):
    spec = (await app_client.get("/openapi.json")).json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"import_workers", "create_certificate", "internal_employment_check", "get_stats"} <= ops
    assert "text/csv" in spec["paths"]["/v1/workers/import"]["post"]["requestBody"]["content"]


async def test_concurrent_retries_with_one_key_import_once(app_client, api, townships):
    url = app_client.database_url
    body = csv_bytes([person(), person("棋盘井镇社工站")])
    headers = {**api.admin, "Content-Type": CSV_TYPE, "Idempotency-Key": f"c-{uuid.uuid4()}"}
    before = await counts(url)
    first, second = await asyncio.gather(*(app_client.post("/v1/workers/import", content=body, headers=headers)
                                           for _ in range(2)))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert sorted(r.headers.get("idempotent-replayed", "no") for r in (first, second)) == ["no", "true"]
    after = await counts(url)
    assert after["workers"] == before["workers"] + 2 and after["import_requests"] == before["import_requests"] + 1
