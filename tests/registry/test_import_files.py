"""Files as bureau staff and old HR systems send them, checked row by row against what is stored.

Each test builds its own file (GBK text without BOM, UTF-16 with BOM, openpyxl workbooks with merged title
rows and merged station cells, date serials, numeric ID cells, 15-digit numbers, full-width digits) and
reads every imported person back through the API as bureau_admin (ID numbers unmasked).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.registry.conftest import assert_masks_stored, new_id_number
from tests.registry.test_import import CSV_TYPE, HEADER, SAMPLE, XLSX_TYPE, counts, townships  # noqa: F401
from tests.support import assert_problem

IMPORT = "/v1/workers/import"


def legacy(id18: str) -> str:
    """The 15-digit form of an 18-digit number of someone born in the 1900s."""
    return id18[:6] + id18[8:17]


def id_ending_in_x(birth: str) -> str:
    while not (idn := new_id_number(birth)).endswith("X"):
        pass
    return idn


def id_of_digits(birth: str, **kwargs) -> str:
    while (idn := new_id_number(birth, **kwargs)).endswith("X"):
        pass
    return idn


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def stored(client, headers, worker_id: str) -> dict:
    """A person as the API gives them to bureau_admin, with employments and certificates."""
    worker = (await client.get(f"/v1/workers/{worker_id}", headers=headers,
                               params={"unmask": "true", "purpose": "check the import"})).json()
    worker["employments"] = (await client.get(f"/v1/workers/{worker_id}/employments", headers=headers)).json()["items"]
    worker["certificates"] = (await client.get(f"/v1/workers/{worker_id}/certificates",
                                               headers=headers)).json()["items"]
    return worker


async def outbox_payloads(url: str, keys: list[str]) -> list[dict]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(
                "SELECT payload FROM outbox WHERE key = ANY(:keys) AND jsonb_typeof(payload) = 'object' ORDER BY id"),
                {"keys": keys})).scalars())
    finally:
        await engine.dispose()


def by_row(answer: dict) -> dict[int, dict]:
    return {x["row"]: x for x in answer["results"]}


def workbook_bytes(workbook) -> bytes:
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


async def test_gbk_csv_from_chinese_excel(app_client, api, townships):  # noqa: F811
    """GBK without BOM, a title, a blank line and a note above the header, a 序号 column, and values as typed."""
    a, b, c = new_id_number("19740618"), id_ending_in_x("19850727"), new_id_number("19900101", male=False)
    header = ["序号", *HEADER]
    lines = [
        ["鄂托克旗社会工作人才花名册（2026年11月）"] + [""] * 14,
        [""] * 15,
        ["制表：乌兰镇社工站"] + [""] * 14,
        header,
        ["1", "秦建国", legacy(a), "男", "1974年6月18日", "+86 139-1234-5678", "大专", "群众", "乌兰镇社工站",
         "社工站社工", "√", "2022.1.1", "助理社会工作师", full_width("ZS2020"), "2020/12/25"],
        ["2", "\u3000王五\u3000", b.lower(), "男" if int(b[16]) % 2 else "女", "19850727",
         full_width("13912345678"), "本科", "群众", "蒙西镇社工站", "社工站社工", "N", "20220301", "", "", ""],
        ["3", "李娜", c, "女", "1990-01-01 00:00:00", "139 1234 0000", "本科", "群众", "棋盘井镇社工站",
         "社工站社工", "1", "44562", "社会工作师", "SG-1", "2021-06-15 00:00:00"],
        ["4", "张冬", "1.50624E+17", "男", "", "", "", "", "", "", "", "", "", "", ""],
        ["5", "赵六", new_id_number(), "", "", "", "", "", "乌兰镇社工站", "社工站社工", "也许", "2022-01-01",
         "", "", ""],
    ]
    body = "\r\n".join(",".join(cells) for cells in lines).encode("gbk")
    before = await counts(app_client.database_url)
    r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["encoding"] == "gb18030" and answer["header_row"] == 4
    assert [s["row"] for s in answer["skipped_rows"]] == [1, 3] and "花名册" in answer["skipped_rows"][0]["text"]
    assert answer["ignored_columns"] == ["序号"]
    rows = by_row(answer)
    assert [rows[n]["status"] for n in range(1, 6)] == ["created", "created", "created", "error", "error"]
    assert rows[1]["line"] == 5 and rows[1]["notes"][0]["field"] == "id_number"

    first = await stored(app_client, api.admin, rows[1]["worker_id"])
    assert (first["name"], first["id_number"], first["birth_date"], first["gender"], first["phone"]) == (
        "秦建国", a, "1974-06-18", "male", "13912345678")
    assert [(e["station_id"], e["start_date"], e["full_time"]) for e in first["employments"]] == [
        (townships["乌兰镇社工站"], "2022-01-01", True)]
    assert [(x["level"], x["certificate_no"], x["obtained_on"]) for x in first["certificates"]] == [
        ("assistant", "ZS2020", "2020-12-25")]
    second = await stored(app_client, api.admin, rows[2]["worker_id"])
    assert (second["name"], second["id_number"], second["phone"]) == ("王五", b, "13912345678")
    assert [(e["start_date"], e["full_time"]) for e in second["employments"]] == [("2022-03-01", False)]
    assert second["certificates"] == []
    third = await stored(app_client, api.admin, rows[3]["worker_id"])
    assert (third["id_number"], third["phone"], third["gender"]) == (c, "13912340000", "female")
    assert [(e["start_date"], e["full_time"]) for e in third["employments"]] == [("2022-01-01", True)]
    assert [(x["level"], x["obtained_on"]) for x in third["certificates"]] == [("intermediate", "2021-06-15")]
    assert rows[4]["errors"][0]["column"] == "身份证号" and "as text" in rows[4]["errors"][0]["reason"]
    assert rows[5]["errors"][0]["column"] == "是否专职"
    after = await counts(app_client.database_url)
    assert after["workers"] - before["workers"] == 3 and after["certificates"] - before["certificates"] == 2
    # the certificate-issued events are outbox rows as enqueue_many writes them (a JSON object, in row order)
    events = await outbox_payloads(app_client.database_url, [rows[1]["worker_id"], rows[3]["worker_id"]])
    assert [(e["type"], e["partitionkey"], e["data"]["certificate_no"], e["data"]["obtained_on"]) for e in events] == [
        ("socialwork.registry.certificate-issued.v1", rows[1]["worker_id"], "ZS2020", "2020-12-25"),
        ("socialwork.registry.certificate-issued.v1", rows[3]["worker_id"], "SG-1", "2021-06-15")]

    # the same people under their 18-digit numbers (and the same file declared as charset=gbk) are the same people
    again = [header, ["1", "秦建国", a, "男", "1974-06-18", "13912345678", "大专", "群众", "乌兰镇社工站",
                      "社工站社工", "是", "2022-01-01", "助理社会工作师", "ZS2020", "2020-12-25"]]
    r = await app_client.post(IMPORT, content="\r\n".join(",".join(x) for x in again).encode("gbk"),
                              headers={**api.admin, "Content-Type": "text/csv; charset=GBK"})
    assert r.json()["encoding"] == "gb18030"
    assert r.json()["results"][0] | {"line": 0} == {"row": 1, "line": 0, "status": "unchanged", "errors": [],
                                                    "worker_id": rows[1]["worker_id"]}
    assert (await counts(app_client.database_url))["workers"] == after["workers"]


async def test_utf16_tab_separated_with_bom(app_client, api, townships):  # noqa: F811
    idn = new_id_number("19881212")
    text = "\t".join(HEADER) + "\r\n" + "\t".join(
        ["包头", legacy(idn), "男", "1988/12/12", "13900001111", "本科", "群众", "苏米图苏木社工站", "社工",
         "是", "2023-05-01", "", "", ""]) + "\r\n"
    r = await app_client.post(IMPORT, content=text.encode("utf-16"),  # Python writes the BOM of its byte order
                              headers={**api.admin, "Content-Type": CSV_TYPE})
    assert r.status_code == 200, r.text
    assert r.json()["encoding"].startswith("utf-16") and r.json()["results"][0]["status"] == "created"
    person = await stored(app_client, api.admin, r.json()["results"][0]["worker_id"])
    assert (person["name"], person["id_number"], person["birth_date"]) == ("包头", idn, "1988-12-12")
    assert [(e["station_id"], e["start_date"]) for e in person["employments"]] == [
        (townships["苏米图苏木社工站"], "2023-05-01")]


async def test_workbook_with_title_merged_cells_dates_and_numeric_ids(app_client, api, townships):  # noqa: F811
    a, b, c, d = (new_id_number("19700513"), new_id_number("19650301"), id_of_digits("19920202"),
                  new_id_number("19951111", male=False))
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "说明"
    notes.append(["本表由人事系统导出"])
    ws = wb.create_sheet("人员信息")
    ws.append(["2026年鄂托克旗社工花名册"])
    ws.merge_cells("A1:N1")
    ws.append([])
    ws.append(HEADER)
    ws.append(["江琳晨", a, "男", datetime(1970, 5, 13), 13615353167, "硕士研究生", "中共党员", "木凯淖尔镇社工站",
               "社工站社工", "是", 44562, "助理社会工作师", 2021014492, date(2021, 12, 24)])
    ws.append(["冯格", legacy(b), "男", None, "133-6358-1984", "大专", "群众", None, "社工站社工", True,
               date(2020, 6, 1), None, None, None])
    ws.append(["朱英", int(c), "男", None, None, None, None, None, "社工站社工", "是", date(2021, 1, 1), None,
               None, None])
    ws.append(["杜娜", full_width(d), "女", "1995.11.11", full_width("13594844696"), "大专", "群众", "蒙西镇社工站",
               "社工", "×", "2023年3月1日", "社会工作师", full_width("SG2023"), 45000])
    ws.merge_cells("H4:H6")  # one station for the first three people, typed once
    body = workbook_bytes(wb)
    before = await counts(app_client.database_url)
    r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": XLSX_TYPE})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["sheet"] == "人员信息" and answer["header_row"] == 3
    assert answer["skipped_rows"] == [{"row": 1, "text": "2026年鄂托克旗社工花名册"}]
    rows = by_row(answer)
    assert [rows[n]["status"] for n in range(1, 5)] == ["created", "created", "error", "created"]
    assert [rows[n]["line"] for n in range(1, 5)] == [4, 5, 6, 7]

    first = await stored(app_client, api.admin, rows[1]["worker_id"])
    assert (first["id_number"], first["phone"], first["birth_date"]) == (a, "13615353167", "1970-05-13")
    assert [(e["station_id"], e["start_date"]) for e in first["employments"]] == [
        (townships["木凯淖尔镇社工站"], "2022-01-01")]  # serial 44562 in a plain number cell
    assert [(x["certificate_no"], x["obtained_on"]) for x in first["certificates"]] == [("2021014492", "2021-12-24")]
    second = await stored(app_client, api.admin, rows[2]["worker_id"])
    assert (second["id_number"], second["phone"], second["birth_date"]) == (b, "13363581984", "1965-03-01")
    assert rows[2]["notes"][0]["column"] == "身份证号"
    assert [(e["station_id"], e["start_date"], e["full_time"]) for e in second["employments"]] == [
        (townships["木凯淖尔镇社工站"], "2020-06-01", True)]  # the merged station cell
    third = rows[3]["errors"]
    assert [e["column"] for e in third] == ["身份证号"] and "format the column as text" in third[0]["reason"]
    fourth = await stored(app_client, api.admin, rows[4]["worker_id"])
    assert (fourth["id_number"], fourth["phone"], fourth["gender"]) == (d, "13594844696", "female")
    assert [(e["start_date"], e["full_time"]) for e in fourth["employments"]] == [("2023-03-01", False)]
    assert [(x["certificate_no"], x["obtained_on"]) for x in fourth["certificates"]] == [("SG2023", "2023-03-15")]
    after = await counts(app_client.database_url)
    assert after["workers"] - before["workers"] == 3  # the numeric ID number was not stored in any form

    # the sheet parameter picks a sheet; a missing one is named in the problem
    r = await app_client.post(IMPORT, params={"sheet": "说明"}, content=body,
                              headers={**api.admin, "Content-Type": XLSX_TYPE})
    assert_problem(r, 422, field="header")
    r = await app_client.post(IMPORT, params={"sheet": "Sheet9"}, content=body,
                              headers={**api.admin, "Content-Type": XLSX_TYPE})
    assert "人员信息" in assert_problem(r, 422, field="sheet")["detail"]


def _doubtful_files(known: str, other: str, third: str) -> tuple[bytes, bytes]:
    base = ["同名", None, "男", "1980-05-12", "13900000001", "本科", "群众", "乌兰镇社工站", "社工站社工", "是",
            "2021-01-01", "", "", ""]
    first = [base[:1] + [known] + base[2:]]
    second = [base[:1] + [other] + base[2:4] + ["13900000002"] + base[5:], base[:1] + [third] + base[2:]]
    return (("\r\n".join(",".join(x) for x in [HEADER, *first])).encode(),
            ("\r\n".join(",".join(x) for x in [HEADER, *second])).encode())


async def test_same_name_and_birth_date_waits_for_the_bureau(app_client, api, mint, townships):  # noqa: F811
    known, other, third = (new_id_number("19800512") for _ in range(3))
    first, doubtful = _doubtful_files(known, other, third)
    headers = {**api.admin, "Content-Type": CSV_TYPE}
    r = await app_client.post(IMPORT, content=first, headers=headers)
    known_id = r.json()["results"][0]["worker_id"]
    before = await counts(app_client.database_url)
    r = await app_client.post(IMPORT, content=doubtful, headers=headers)
    answer = r.json()
    assert answer["totals"]["needs_review"] == 2 and answer["totals"]["created"] == 0
    assert (await counts(app_client.database_url))["workers"] == before["workers"]
    review_ids = [x["review_id"] for x in answer["results"]]
    # the same file again reports the same reviews, and adds none
    again = await app_client.post(IMPORT, content=doubtful, headers=headers)
    assert [x["review_id"] for x in again.json()["results"]] == review_ids

    assert_problem(await app_client.get(f"{IMPORT}/reviews", headers=mint.headers("hr_system")), 403)
    listed = (await app_client.get(f"{IMPORT}/reviews", headers=api.admin, params={"limit": 500})).json()["items"]
    mine = {x["id"]: x for x in listed if x["id"] in review_ids}
    assert set(mine) == set(review_ids)
    review = mine[review_ids[0]]
    assert (review["id_number"], review["worker"]["id"], review["worker"]["id_number"]) == (other, known_id, known)
    assert review["status"] == "pending" and review["values"]["phone"] == "13900000002"

    # merge the first into the known person (keeping the number on record); it cannot be decided twice
    r = await app_client.post(f"{IMPORT}/reviews/{review_ids[0]}/merge", headers=api.admin, json={})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "merged" and r.json()["result"]["worker_id"] == known_id
    r = await app_client.post(f"{IMPORT}/reviews/{review_ids[0]}/confirm", headers=api.admin)
    assert_problem(r, 409)
    person = await stored(app_client, api.admin, known_id)
    assert (person["id_number"], person["phone"]) == (known, "13900000002")
    # confirm the second as a different person
    r = await app_client.post(f"{IMPORT}/reviews/{review_ids[1]}/confirm", headers=api.admin)
    assert r.status_code == 200, r.text
    created = r.json()["result"]["worker_id"]
    assert created != known_id and (await stored(app_client, api.admin, created))["id_number"] == third
    after = await counts(app_client.database_url)
    assert after["workers"] == before["workers"] + 1

    # a later import of the merged number updates the known person instead of asking again
    r = await app_client.post(IMPORT, content=doubtful, headers=headers)
    assert [(x["status"], x["worker_id"]) for x in r.json()["results"]] == [
        ("unchanged", known_id), ("unchanged", created)]
    assert (await counts(app_client.database_url))["workers"] == after["workers"]


async def test_merge_keeping_the_incoming_number_and_concurrent_decisions(app_client, api, townships):  # noqa: F811
    damaged, real = new_id_number("19760303"), new_id_number("19760303")
    rows = [["孟宁", damaged, "男", "", "", "", "", "", "", "", "", "", "", ""],
            ["孟宁", real, "男", "", "", "", "", "", "", "", "", "", "", ""]]
    body = "\r\n".join(",".join(x) for x in [HEADER, *rows]).encode()
    r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    first, second = r.json()["results"]
    assert first["status"] == "created" and second["status"] == "needs_review"  # within one file too
    url = f"{IMPORT}/reviews/{second['review_id']}"
    merge, confirm = await asyncio.gather(
        app_client.post(f"{url}/merge", headers=api.admin, json={"keep": "incoming"}),
        app_client.post(f"{url}/confirm", headers=api.admin))
    assert sorted([merge.status_code, confirm.status_code]) == [200, 409], (merge.text, confirm.text)
    winner = merge if merge.status_code == 200 else confirm
    if winner is merge:
        person = await stored(app_client, api.admin, first["worker_id"])
        assert person["id_number"] == real  # the wrong number on record was replaced
        for row in rows:  # either number finds the person; both in one file are one person twice
            one = "\r\n".join(",".join(x) for x in [HEADER, row]).encode()
            r = await app_client.post(IMPORT, content=one, headers={**api.admin, "Content-Type": CSV_TYPE})
            assert r.json()["results"][0]["worker_id"] == first["worker_id"], r.text
        r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
        assert "same person as row 1" in r.json()["results"][1]["errors"][0]["reason"]
    else:
        assert winner.json()["result"]["status"] == "created"
    assert (await app_client.get(url, headers=api.admin)).json()["status"] == winner.json()["status"]
    await assert_masks_stored(app_client)  # the replaced number's mask too


async def test_dry_run_writes_nothing_and_report_workbook(app_client, api, townships):  # noqa: F811
    good = ["钱七", new_id_number("19910101"), "男", "", "", "", "", "乌兰镇社工站", "社工", "是", "2024-01-01",
            "", "", ""]
    bad = ["孙八", "150624199101011234", "男", "", "", "", "", "", "", "", "", "", "", "=1+1\x01"]
    body = "\r\n".join(",".join(x) for x in [HEADER, good, bad]).encode()
    before = await counts(app_client.database_url)
    r = await app_client.post(IMPORT, params={"dry_run": "true"}, content=body,
                              headers={**api.admin, "Content-Type": CSV_TYPE, "Idempotency-Key": "dry"})
    assert r.json()["dry_run"] is True
    assert [x["status"] for x in r.json()["results"]] == ["created", "error"]
    assert await counts(app_client.database_url) == before

    r = await app_client.post(IMPORT, params={"dry_run": "true", "report": "xlsx"}, content=body,
                              headers={**api.admin, "Content-Type": CSV_TYPE})
    assert r.headers["content-type"] == XLSX_TYPE and await counts(app_client.database_url) == before
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == [*HEADER, "结果", "原因"]
    assert values[1][:2] == good[:2] and values[1][-2] == "新增"
    assert values[2][1] == "150624199101011234" and isinstance(values[2][1], str)  # still text
    assert values[2][-2] == "错误" and values[2][-1].startswith("身份证号: check digit")
    assert values[2][13] == "=1+1"  # text as sent, never a formula (and no control character)

    r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": CSV_TYPE})
    assert [x["status"] for x in r.json()["results"]] == ["created", "error"]
    assert (await counts(app_client.database_url))["workers"] == before["workers"] + 1


async def test_template_workbook(app_client, api, townships):  # noqa: F811
    r = await app_client.get(f"{IMPORT}/template", params={"format": "xlsx"}, headers=api.admin)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX_TYPE
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["人员信息", "选项", "填写说明"]
    sheet = wb["人员信息"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["姓名", "身份证号"]
    letter = {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(header, start=1)}
    for name in ("身份证号", "手机号", "证书编号"):
        assert sheet[f"{letter[name]}2"].number_format == "@"
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert set(lists) == {f"{letter[h]}2" for h in ("证书等级", "所在社工站", "是否专职", "性别")}
    options = wb["选项"]
    stations = [c.value for c in options["B"] if c.value]
    assert set(townships) <= set(stations)
    assert [c.value for c in options["A"] if c.value] == ["助理社会工作师", "社会工作师", "高级社会工作师"]
    # the template, filled in, imports
    idn = new_id_number("19930303")
    sheet.append(["周九", idn, "男", None, None, None, None, "乌兰镇社工站", "社工", "是", "2024-02-01"])
    r = await app_client.post(IMPORT, content=workbook_bytes(wb), headers={**api.admin, "Content-Type": XLSX_TYPE})
    assert r.json()["results"][0]["status"] == "created", r.text


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


async def test_limits_and_malformed_files_are_problems_never_500(app_client, api, townships,  # noqa: F811
                                                                 monkeypatch):
    settings = app_client.app.state.settings
    headers = {**api.admin, "Content-Type": CSV_TYPE}
    before = await counts(app_client.database_url)
    monkeypatch.setattr(settings, "import_max_bytes", 2000)
    body = ("\r\n".join([",".join(HEADER)] + [f"某,{new_id_number()}" + "," * 12] * 80)).encode()
    problem = assert_problem(await app_client.post(IMPORT, content=body, headers=headers), 413, field="body")
    assert "MiB" in problem["detail"] and "split" in problem["detail"]
    monkeypatch.setattr(settings, "import_max_bytes", 64 * 2**20)
    monkeypatch.setattr(settings, "import_max_rows", 50)
    assert_problem(await app_client.post(IMPORT, content=body, headers=headers), 413, field="file")
    monkeypatch.setattr(settings, "import_max_unzipped_bytes", 1_000_000)
    bomb = _zip({"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * 5_000_000})
    assert len(bomb) < 20_000
    assert_problem(await app_client.post(IMPORT, content=bomb, headers={**api.admin, "Content-Type": XLSX_TYPE}),
                   413, field="file")

    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    wb.active.append(["某", new_id_number()])
    workbook = workbook_bytes(wb)
    json_type = {**api.admin, "Content-Type": "application/json"}
    cases = [
        (workbook[: len(workbook) // 2], XLSX_TYPE, 422),  # truncated
        (workbook[:200] + bytes(range(256)) * 10 + workbook[2760:], XLSX_TYPE, 422),  # damaged inside
        (_zip({"xl/workbook.xml": b"<not-a-workbook"}), XLSX_TYPE, 422),
        (bytes(range(256)) * 40, CSV_TYPE, 422),  # binary garbage
        (bytes(range(256)) * 40, XLSX_TYPE, 422),
        (bytes(range(256)) * 40, "application/octet-stream", 422),
        (b"\xd0\xcf\x11\xe0" + bytes(500), "application/octet-stream", 415),  # an old .xls
    ]
    for body, content_type, status in cases:
        r = await app_client.post(IMPORT, content=body, headers={**api.admin, "Content-Type": content_type})
        assert_problem(r, status)
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'[{"name": {"a": [1]}}]', b"[[[[{}]]]]"):
        assert_problem(await app_client.post(IMPORT, content=deep, headers=json_type), 400, field="body")
    # a JSON number is no ID number: refused for its row
    r = await app_client.post(IMPORT, json=[{"name": "某", "id_number": 150624197406182317},
                                            {"name": "某", "id_number": new_id_number(), "phone": 1.3e16,
                                             "birth_date": 43800, "start_date": None}], headers=api.admin)
    first, second = r.json()["results"]
    assert [e["field"] for e in first["errors"]] == ["id_number"]
    assert {e["field"] for e in second["errors"]} == {"phone", "birth_date"}  # 43800 is 2019-12-01, not the birth
    assert await counts(app_client.database_url) == before


@pytest.mark.parametrize("typed,expected", [
    ("2019-03-05", date(2019, 3, 5)), ("2019/3/5", date(2019, 3, 5)), ("2019.3.5", date(2019, 3, 5)),
    ("2019年3月5日", date(2019, 3, 5)), ("20190305", date(2019, 3, 5)), ("43529", date(2019, 3, 5)),
    ("43529.0", date(2019, 3, 5)), ("2019-03-05 08:30", date(2019, 3, 5)), ("1", date(1900, 1, 1)),
    ("59", date(1900, 2, 28)), ("60", date(1900, 2, 28)), ("61", date(1900, 3, 1)),
])
def test_dates_as_people_write_them(typed, expected):
    from services.registry.imports.service import parse_date

    assert parse_date(typed) == expected


def test_phone_numbers_and_yes_no():
    from services.registry.imports.parsing import clean
    from services.registry.imports.service import BOOLS, parse_phone

    for typed in ("139 1234 5678", "139-1234-5678", "+86 13912345678", "0086-139-1234-5678", "8613912345678",
                 clean(full_width("13912345678")), "(139)1234.5678"):
        assert parse_phone(typed) == "13912345678", typed
    assert parse_phone("1391234567") is None and parse_phone("+8623912345678") is None
    assert [BOOLS[x.lower()] for x in ("是", "Y", "1", "√", "TRUE", "yes", "专职")] == [True] * 7
    assert [BOOLS[x.lower()] for x in ("否", "N", "0", "×", "false", "No", "兼职")] == [False] * 7



async def test_gbk_example_is_the_same_people_as_the_sample(app_client, api, townships):  # noqa: F811
    """examples/hr-export-gbk-excel.csv: five sample people as Chinese Excel and an old HR system write them."""
    examples = SAMPLE.parent
    gbk = await asyncio.to_thread((examples / "hr-export-gbk-excel.csv").read_bytes)
    r = await app_client.post(IMPORT, content=gbk, headers={**api.admin, "Content-Type": CSV_TYPE})
    answer = r.json()
    assert (answer["encoding"], answer["header_row"], answer["totals"]["created"]) == ("gb18030", 3, 5), r.text
    first = await stored(app_client, api.admin, answer["results"][0]["worker_id"])
    assert (first["id_number"], first["phone"], first["birth_date"]) == ("150624197406182317", "13363581984",
                                                                         "1974-06-18")
    # the UTF-8 sample names the same five people: they are found, not created again
    sample = (await asyncio.to_thread(SAMPLE.read_bytes)).decode("utf-8-sig").splitlines()[:6]
    r = await app_client.post(IMPORT, content="\r\n".join(sample).encode(),
                              headers={**api.admin, "Content-Type": CSV_TYPE})
    assert [x["status"] for x in r.json()["results"]] == ["unchanged"] * 5, r.text
    assert [x["worker_id"] for x in r.json()["results"]] == [x["worker_id"] for x in answer["results"]]
