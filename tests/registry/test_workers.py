"""Workers: validation, encryption at rest, masking by role, visibility in the query, registration, stats."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.clock import bureau_today
from tests.registry.conftest import assert_masks_stored, new_id_number, new_phone
from tests.support import assert_problem


async def scalar(url: str, sql: str, **params):
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()
    finally:
        await engine.dispose()


async def test_create_worker_encrypts_and_masks(app_client, api, mint):
    idn, phone = new_id_number("19850607", male=False), new_phone()
    r = await app_client.post("/v1/workers", headers=api.admin, json={
        "name": "王芳", "id_number": idn.lower(), "phone": phone, "education": "本科", "political_status": "群众",
        "full_time": True, "birth_date": "1985-06-07"})
    assert r.status_code == 201, r.text
    w = r.json()
    # the admin too gets the masked view unless it unmasks with a purpose (tests/registry/test_privacy.py)
    assert w["id_number"] == idn[:6] + "*" * 10 + idn[-2:] and w["phone"] == phone[:3] + "****" + phone[-4:]
    assert w["gender"] == "female" and w["birth_date"] is None and w["birth_year"] == 1985
    r = await app_client.get(f"/v1/workers/{w['id']}", headers=api.admin,
                             params={"unmask": "true", "purpose": "test: the record is whole"})
    assert r.json()["id_number"] == idn and r.json()["phone"] == phone and r.json()["birth_date"] == "1985-06-07"
    raw = await scalar(app_client.database_url, "SELECT id_number_enc FROM workers WHERE id = :id",
                       id=uuid.UUID(w["id"]))
    assert idn.encode() not in raw and len(raw) > 18
    for role in ("auditor", "hr_system", "service"):
        r = await app_client.get(f"/v1/workers/{w['id']}", headers=mint.headers(role))
        assert r.json()["id_number"] == idn[:6] + "**********" + idn[-2:], role
        assert r.json()["phone"] == phone[:3] + "****" + phone[-4:]
        assert r.json()["birth_date"] is None and r.json()["birth_year"] == 1985
    r = await app_client.get(f"/v1/workers/{w['id']}", headers=mint.headers("social_worker", worker_id=w["id"]))
    assert r.status_code == 200 and "*" in r.json()["id_number"]


async def test_worker_validation_writes_nothing(app_client, api):
    url = app_client.database_url
    before = await scalar(url, "SELECT count(*) FROM workers")
    good = new_id_number("19900101")
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    cases = [
        ({"name": "x", "id_number": bad_check}, 422, "id_number"),
        ({"name": "x", "id_number": "15062419900101"}, 422, "id_number"),
        ({"name": "x", "id_number": good, "birth_date": "1990-01-02"}, 422, "birth_date"),
        ({"name": "x", "id_number": good, "gender": "female"}, 422, "gender"),
        ({"name": "x", "id_number": good, "phone": "12345"}, 422, "phone"),
        ({"name": "x", "id_number": good, "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        assert_problem(await app_client.post("/v1/workers", headers=api.admin, json=body), status, field=field)
    assert await scalar(url, "SELECT count(*) FROM workers") == before
    await api.worker(id_number=good)
    r = await app_client.post("/v1/workers", headers=api.admin, json={"name": "y", "id_number": good})
    assert_problem(r, 409, field="id_number")
    assert await scalar(url, "SELECT count(*) FROM workers") == before + 1


async def test_station_manager_sees_only_their_stations(app_client, api, mint):
    a, b = await api.station(), await api.station()
    wa = await api.worker(station_id=a["id"], name="甲站人")
    wb = await api.worker(station_id=b["id"], name="乙站人")
    manager = mint.headers("station_manager", station_ids=[a["id"]])
    r = await app_client.get("/v1/workers", headers=manager, params={"limit": 500})
    ids = {w["id"] for w in r.json()["items"]}
    assert wa["id"] in ids and wb["id"] not in ids
    assert_problem(await app_client.get(f"/v1/workers/{wb['id']}", headers=manager), 404)
    assert (await app_client.get("/v1/workers", headers=manager, params={"station_id": b["id"]})).json()["items"] == []
    # create: only with an employment at their station
    r = await app_client.post("/v1/workers", headers=manager, json={"name": "新人", "id_number": new_id_number()})
    assert_problem(r, 403)
    r = await app_client.post("/v1/workers", headers=manager, json={
        "name": "新人", "id_number": new_id_number(), "employment": {
            "station_id": a["id"], "start_date": "2023-01-01", "full_time": True, "role": "社工"}})
    assert r.status_code == 201 and "*" in r.json()["id_number"]
    # certificates for B's worker: 404; social worker sees only themselves
    r = await app_client.post(f"/v1/workers/{wb['id']}/certificates", headers=manager, json={
        "level": "assistant", "certificate_no": "X1", "obtained_on": "2022-01-01"})
    assert_problem(r, 404)
    me = mint.headers("social_worker", worker_id=wa["id"])
    assert_problem(await app_client.get(f"/v1/workers/{wb['id']}", headers=me), 404)
    assert [w["id"] for w in (await app_client.get("/v1/workers", headers=me)).json()["items"]] == [wa["id"]]
    assert_problem(await app_client.post("/v1/workers", headers=me, json={"name": "x", "id_number": new_id_number()}),
                   403)
    nobody = mint.headers()
    assert (await app_client.get("/v1/workers", headers=nobody)).json()["items"] == []
    assert_problem(await app_client.get("/v1/workers"), 401)


async def test_filters_and_pagination(app_client, api, mint):
    s = await api.station()
    made = [await api.worker(station_id=s["id"], name=f"分页{i}") for i in range(5)]
    await app_client.post(f"/v1/workers/{made[0]['id']}/certificates", headers=api.admin, json={
        "level": "senior", "certificate_no": "S-1", "obtained_on": "2020-01-01"})
    await app_client.post(f"/v1/workers/{made[1]['id']}/registration", headers=api.admin,
                          json={"registered_on": "2023-03-01"})
    seen, cursor = [], None
    while True:
        r = await app_client.get("/v1/workers", headers=api.admin, params={
            "station_id": s["id"], "limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [w["id"] for w in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [w["id"] for w in made]
    q = {"station_id": s["id"]}
    r = await app_client.get("/v1/workers", headers=api.admin, params={**q, "level": "senior"})
    assert [w["id"] for w in r.json()["items"]] == [made[0]["id"]]
    r = await app_client.get("/v1/workers", headers=api.admin, params={**q, "registered": True})
    assert [w["id"] for w in r.json()["items"]] == [made[1]["id"]]
    assert len((await app_client.get("/v1/workers", headers=api.admin, params={**q, "registered": False}))
               .json()["items"]) == 4
    r = await app_client.get("/v1/workers", headers=api.admin, params={**q, "q": "分页3"})
    assert [w["id"] for w in r.json()["items"]] == [made[3]["id"]]
    assert_problem(await app_client.get("/v1/workers", headers=api.admin, params={"level": "expert"}), 422,
                   field="level")
    assert_problem(await app_client.get("/v1/workers", headers=api.admin, params={"cursor": "junk"}), 422,
                   field="cursor")


async def test_the_list_query_string_is_checked_field_by_field_and_documented_as_before(app_client, api):
    """`GET /v1/workers` reads its query string in one model (services.registry.deps.query_model): each bad value
    is still a 422 naming its parameter, repeated keys and unknown ones behave as FastAPI's own parameters do, and
    the OpenAPI lists the same parameters."""
    s = await api.station()
    made = [await api.worker(station_id=s["id"], name=f"查询{i}") for i in range(3)]
    bad = [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "ten"}, "limit"),
           ({"station_id": "wulan"}, "station_id"), ({"station_id": ""}, "station_id"), ({"level": "expert"}, "level"),
           ({"registered": "maybe"}, "registered"), ({"q": "x" * 101}, "q"), ({"unmask": "please"}, "unmask"),
           ({"purpose": "p" * 501, "unmask": True}, "purpose")]
    for params, field in bad:
        problem = assert_problem(await app_client.get("/v1/workers", headers=api.admin, params=params), 422,
                                 field=field)
        assert problem["errors"][0]["field"] == field, (params, problem)
    r = await app_client.get(f"/v1/workers?station_id={s['id']}&limit=1&limit=2&colour=blue", headers=api.admin)
    assert r.status_code == 200 and [w["id"] for w in r.json()["items"]] == [w["id"] for w in made[:2]]
    assert r.json()["next_cursor"] is not None
    # The unmask switch is still the admin's, with a purpose; without one the page stays masked.
    r = await app_client.get("/v1/workers", headers=api.admin, params={"station_id": s["id"], "unmask": True})
    assert all("*" in w["id_number"] for w in r.json()["items"])
    spec = (await app_client.get("/openapi.json")).json()
    parameters = {p["name"]: p for p in spec["paths"]["/v1/workers"]["get"]["parameters"]}
    assert list(parameters) == ["station_id", "level", "registered", "q", "cursor", "limit", "unmask", "purpose"]
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50,
                                                  "title": "Limit"}
    assert {"$ref": "#/components/schemas/Level"} in parameters["level"]["schema"]["anyOf"]
    assert "Level" in spec["components"]["schemas"]
    assert parameters["purpose"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 500}
    responses = spec["paths"]["/v1/workers"]["get"]["responses"]
    assert set(responses) == {"200", "422", "default"}, responses
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_registration_training_honours(app_client, api, mint):
    s = await api.station()
    w = await api.worker(station_id=s["id"])
    r = await app_client.post(f"/v1/workers/{w['id']}/registration", headers=api.admin,
                              json={"registered_on": "2099-01-01"})
    assert_problem(r, 422, field="registered_on")
    r = await app_client.post(f"/v1/workers/{w['id']}/registration", headers=mint.headers(
        "station_manager", station_ids=[s["id"]]), json={"registered_on": "2023-01-01"})
    assert_problem(r, 403)
    r = await app_client.post(f"/v1/workers/{w['id']}/registration", headers=api.admin,
                              json={"registered_on": "2023-01-01", "division_code": "150624"})
    assert r.json()["registered_on"] == "2023-01-01"
    manager = mint.headers("station_manager", station_ids=[s["id"]])
    r = await app_client.post(f"/v1/workers/{w['id']}/trainings", headers=manager, json={
        "kind": "exam_preparation", "title": "考前培训", "hours": 24, "start_date": "2023-05-01",
        "end_date": "2023-05-03"})
    assert r.status_code == 201, r.text
    r = await app_client.post(f"/v1/workers/{w['id']}/trainings", headers=manager, json={
        "kind": "party", "title": "x", "hours": 1, "start_date": "2023-05-01", "end_date": "2023-05-03"})
    assert_problem(r, 422, field="kind")
    r = await app_client.post(f"/v1/workers/{w['id']}/trainings", headers=manager, json={
        "kind": "other", "title": "x", "hours": 1, "start_date": "2023-05-04", "end_date": "2023-05-03"})
    assert_problem(r, 422)
    assert len((await app_client.get(f"/v1/workers/{w['id']}/trainings", headers=mint.headers("auditor")))
               .json()["items"]) == 1
    r = await app_client.post(f"/v1/workers/{w['id']}/honours", headers=api.admin, json={
        "title": "优秀社工", "awarded_on": "2023-12-01", "level": "banner"})
    assert r.status_code == 201
    r = await app_client.post(f"/v1/workers/{w['id']}/honours", headers=api.admin, json={
        "title": "未来", "awarded_on": "2999-12-01", "level": "banner"})
    assert_problem(r, 422, field="awarded_on")
    assert_problem(await app_client.post(f"/v1/workers/{w['id']}/honours", headers=mint.headers("auditor"), json={
        "title": "x", "awarded_on": "2023-12-01", "level": "banner"}), 403)
    assert len((await app_client.get(f"/v1/workers/{w['id']}/honours", headers=manager)).json()["items"]) == 1
    assert_problem(await app_client.get(f"/v1/workers/{w['id']}/honours", headers=mint.headers(
        "station_manager", station_ids=[str(uuid.uuid4())])), 404)


async def test_organizations(app_client, api, mint):
    r = await app_client.post("/v1/organizations", headers=api.admin, json={
        "name": "鄂托克旗社会工作服务中心", "type": "social_work_agency", "credit_code": "91350100M000100Y43"})
    assert r.status_code == 201, r.text
    org = r.json()
    r = await app_client.post("/v1/organizations", headers=api.admin, json={
        "name": "x", "type": "y", "credit_code": "91350100M000100Y44"})
    assert_problem(r, 422, field="credit_code")
    r = await app_client.post("/v1/organizations", headers=api.admin, json={
        "name": "x", "type": "y", "credit_code": "91350100M000100Y43"})
    assert_problem(r, 409, field="credit_code")
    assert org["id"] in {o["id"] for o in (await app_client.get("/v1/organizations", headers=mint.headers(
        "auditor"), params={"limit": 500})).json()["items"]}
    s = await api.station(operating_organization_id=org["id"])
    assert s["operating_organization_id"] == org["id"]
    w = await api.worker()
    r = await app_client.post(f"/v1/workers/{w['id']}/employments", headers=api.admin, json={
        "organization_id": org["id"], "start_date": "2021-01-01", "full_time": True, "role": "项目主管"})
    assert r.status_code == 201 and r.json()["station_id"] is None


async def test_stats_counts_holders_once_at_highest_level(app_client, api, mint):
    s = await api.station()
    ws = [await api.worker(station_id=s["id"]) for _ in range(4)]
    certs = [(0, "assistant", "2021-01-01"), (0, "intermediate", "2021-03-01"), (1, "assistant", "2023-05-01"),
             (2, "senior", "2021-01-01")]
    ids = {}
    for i, (who, level, obtained) in enumerate(certs):
        r = await app_client.post(f"/v1/workers/{ws[who]['id']}/certificates", headers=api.admin, json={
            "level": level, "certificate_no": f"ST-{i}", "obtained_on": obtained})
        ids[i] = r.json()["id"]
    await app_client.post(f"/v1/workers/{ws[2]['id']}/certificates/{ids[3]}/revoke", headers=api.admin,
                          json={"revoked_on": "2022-01-01", "reason": "违规"})
    manager = mint.headers("station_manager", station_ids=[s["id"]])
    r = await app_client.get("/v1/stats", headers=manager)
    this_year = bureau_today().year
    levels = {"assistant": 1, "intermediate": 1, "senior": 0}
    # at each year's end: ws0 and ws2 from 2021, ws2 no more from 2022 (revoked), ws1 from 2023
    years = [{"year": 2021, "total": 2}, {"year": 2022, "total": 1}] + [
        {"year": y, "total": 2} for y in range(2023, this_year + 1)]
    assert r.json() == {"workers": 4, "stations": 1, "certificate_holders": {
        "total": 2, "by_level": levels, "by_station": [{"station_id": s["id"], "total": 2, "by_level": levels}],
        "by_year": years}}
    me = mint.headers("social_worker", worker_id=ws[0]["id"])
    mine = (await app_client.get("/v1/stats", headers=me)).json()["certificate_holders"]
    assert mine["by_level"]["intermediate"] == 1 and mine["by_station"] == [
        {"station_id": s["id"], "total": 1, "by_level": {"assistant": 0, "intermediate": 1, "senior": 0}}]
    assert mine["by_year"][0] == {"year": 2021, "total": 1}
    everything = (await app_client.get("/v1/stats", headers=mint.headers("auditor"))).json()
    assert everything["workers"] >= 4 and everything["stations"] > 1
    holders = everything["certificate_holders"]
    assert {"station_id": s["id"], "total": 2, "by_level": levels} in holders["by_station"]
    assert holders["by_year"][-1]["year"] == this_year


async def test_id_numbers_and_phones_never_logged(app_client, api, mint, caplog):
    import logging  # noqa: PLC0415

    from shared.logs import JsonFormatter  # noqa: PLC0415

    caplog.set_level(logging.DEBUG)
    idn, phone = new_id_number("19780305"), new_phone()
    bad = idn[:17] + ("0" if idn[17] != "0" else "1")
    await app_client.post("/v1/workers", headers=api.admin, json={"name": "日志", "id_number": bad, "phone": phone})
    w = (await app_client.post("/v1/workers", headers=api.admin, json={
        "name": "日志", "id_number": idn, "phone": phone})).json()
    await app_client.post("/v1/workers", headers=api.admin, json={"name": "日志", "id_number": idn, "phone": phone})
    await app_client.get(f"/v1/workers/{w['id']}", headers=mint.headers("auditor"))
    await app_client.post("/v1/workers/import", headers={**api.admin, "Content-Type": "text/csv"},
                          content=f"姓名,身份证号,手机号\r\n日志,{idn},{phone}\r\n日志,{bad},{phone}\r\n".encode())
    assert caplog.records
    formatter = JsonFormatter("registry")
    text_logged = "\n".join(formatter.format(r) for r in caplog.records) + caplog.text
    assert idn not in text_logged and bad not in text_logged and phone not in text_logged


async def test_update_worker_scoped(app_client, api, mint):
    a, b = await api.station(), await api.station()
    w = await api.worker(station_id=a["id"])
    manager_a = mint.headers("station_manager", station_ids=[a["id"]])
    r = await app_client.patch(f"/v1/workers/{w['id']}", headers=manager_a, json={"education": "硕士研究生",
                                                                                  "phone": "13800000000"})
    assert r.status_code == 200 and r.json()["education"] == "硕士研究生" and r.json()["phone"] == "138****0000"
    assert (await app_client.get(f"/v1/workers/{w['id']}", headers=api.admin, params={
        "unmask": "true", "purpose": "test"})).json()["phone"] == "13800000000"
    manager_b = mint.headers("station_manager", station_ids=[b["id"]])
    assert_problem(await app_client.patch(f"/v1/workers/{w['id']}", headers=manager_b, json={"notes": "x"}), 404)
    assert_problem(await app_client.patch(f"/v1/workers/{w['id']}", headers=mint.headers(
        "social_worker", worker_id=w["id"]), json={"notes": "x"}), 403)
    assert_problem(await app_client.patch(f"/v1/workers/{w['id']}", headers=api.admin, json={"id_number": "x"}),
                   422, field="id_number")
    assert_problem(await app_client.patch(f"/v1/workers/{w['id']}", headers=api.admin, json={"name": None}),
                   422, field="name")
    assert await assert_masks_stored(app_client) > 1  # the new phone's mask was stored with it


async def test_concurrent_creates_of_one_person(app_client, api):
    import asyncio  # noqa: PLC0415

    body = {"name": "并发", "id_number": new_id_number("19880808")}
    responses = await asyncio.gather(*(app_client.post("/v1/workers", headers=api.admin, json=body)
                                       for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, field="id_number")


async def test_a_page_of_workers_is_the_bytes_its_response_model_gives(app_client, api):
    """The list serialises its page itself (shared.pagination.page_response), past FastAPI's validation: the
    bytes must be those of `Page[WorkerRead]` (its fields in order, nothing more, dates and `Z` as pydantic
    writes them), masked and unmasked, and the header the same."""
    from pydantic import TypeAdapter  # noqa: PLC0415

    from services.registry.workers.schemas import WorkerRead  # noqa: PLC0415
    from shared.pagination import Page  # noqa: PLC0415

    adapter = TypeAdapter(Page[WorkerRead])
    station = await api.station()
    for _ in range(3):
        await api.worker(station_id=station["id"], notes="备注 \"quoted\" \\ and a tab\t")
    for params in ({"limit": 2, "station_id": station["id"]}, {"limit": 2, "station_id": station["id"],
                                                                "unmask": "true", "purpose": "test: the bytes"}):
        page = await app_client.get("/v1/workers", headers=api.admin, params=params)
        assert page.status_code == 200 and page.headers["content-type"] == "application/json", page.text
        assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
        assert page.content == adapter.dump_json(adapter.validate_json(page.content))
        last = await app_client.get("/v1/workers", headers=api.admin,
                                    params={**params, "cursor": page.json()["next_cursor"]})
        assert last.json()["next_cursor"] is None and b'"next_cursor":null}' in last.content
        assert last.content == adapter.dump_json(adapter.validate_json(last.content))


async def test_a_page_of_workers_is_one_query_and_decrypts_nothing(app_client, api, mint, monkeypatch):
    """Masked views come from the stored masks: no decryption, and one query per page whoever asks. The read
    engine's statements are counted as SQLAlchemy executes them and as asyncpg is sent them (shared.db.read_once
    sends those it can to asyncpg itself, past SQLAlchemy's events); every caller's page goes that way (a station
    manager's stations are one array parameter)."""
    station = await api.station()
    created = [await api.worker(station_id=station["id"]) for _ in range(3)]
    statements: list[str] = []
    past_sqlalchemy: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "outbox" not in statement:  # the outbox relay polls in the background
            statements.append(statement)

    def log(record) -> None:  # what read_once sends to asyncpg itself (statements SQLAlchemy prepares are not logged)
        if "pg_catalog" not in record.query and "'jit'" not in record.query:  # asyncpg's look-up of an array
            statements.append(record.query)  # type, once per connection (the station ids' uuid[])

    def logged(dbapi_connection, record) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    def through_sqlalchemy(conn, cursor, statement, *args) -> None:
        statements.append(statement)
        past_sqlalchemy.append(statement)

    async def sent() -> list[str]:
        await asyncio.sleep(0.05)  # asyncpg calls its query loggers soon after a statement, not at once
        return statements

    def no_decryption(blob: bytes) -> str:
        raise AssertionError("a masked view decrypted a value")

    state = app_client.app.state
    listeners = ((state.engine.sync_engine, "before_cursor_execute", count),
                 (state.read_engine.sync_engine, "connect", logged),
                 (state.read_engine.sync_engine, "before_cursor_execute", through_sqlalchemy))
    await state.read_engine.dispose()  # its connections are made anew, with the logger
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    monkeypatch.setattr(state.cipher, "decrypt", no_decryption)
    manager = mint.headers("station_manager", station_ids=[station["id"]])
    worker = mint.headers("social_worker", worker_id=created[0]["id"])
    try:
        for headers, params, expected in ((api.admin, {}, 2), (mint.headers("auditor"), {}, 2),
                                          (manager, {"station_id": station["id"]}, 2), (worker, {}, 1),
                                          (mint.headers("hr_system"), {"registered": "false", "q": "张"}, 2)):
            statements.clear()
            past_sqlalchemy.clear()
            page = await app_client.get("/v1/workers", headers=headers, params={"limit": 2, **params})
            assert page.status_code == 200, page.text
            assert len(await sent()) == 1, statements
            assert past_sqlalchemy == [], past_sqlalchemy  # every page the compiled statement, past SQLAlchemy
            items = page.json()["items"]
            assert len(items) == expected and all(i["id_number"][6:16] == "*" * 10 for i in items), items
            assert all(i["birth_date"] is None and i["phone"][3:7] == "****" for i in items)
            if page.json()["next_cursor"]:
                statements.clear()
                more = await app_client.get("/v1/workers", headers=headers, params={
                    "limit": 2, "cursor": page.json()["next_cursor"], **params})
                assert more.status_code == 200 and len(await sent()) == 1, statements
        statements.clear()
        looked_up = await app_client.post("/v1/internal/workers/lookup", headers=mint.headers("service"),
                                          json={"worker_ids": [w["id"] for w in created]})
        queries = [s for s in await sent() if "set_config" not in s]  # a POST: the trail's actor is set first
        assert looked_up.status_code == 200 and len(queries) == 1, statements
        assert [i["id_number_masked"] for i in looked_up.json()["items"]] == [w["id_number"] for w in created]
        assert [i["station_ids"] for i in looked_up.json()["items"]] == [[station["id"]]] * 3
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    with pytest.raises(AssertionError):  # the control: unmasking does decrypt
        await app_client.get("/v1/workers", headers=api.admin, params={"unmask": "true", "purpose": "test"})


async def test_pages_asked_in_turn_hold_only_their_own_callers_workers(app_client, api, mint):
    """A page's statement is kept per statement object (shared.pagination._paged) and a reader of every worker
    gets one prebuilt statement (repository.list_statement): pages asked in turn by callers of different scopes,
    the first and those past a cursor, each hold that caller's workers only; a token that is expired, for
    another audience or issuer, or not sent as a bearer lists nothing."""
    stations = [(await api.station())["id"] for _ in range(2)]
    theirs = {s: {(await api.worker(station_id=s))["id"] for _ in range(3)} for s in stations}
    callers = {s: mint.headers("station_manager", station_ids=[s]) for s in stations}
    callers["self"] = mint.headers("station_manager", "social_worker", station_ids=[stations[0]],
                                   worker_id=next(iter(theirs[stations[1]])))
    # Social workers: one statement shape, each caller's own id a value in it (shared.db.read_once's plans)
    workers = sorted(theirs[stations[0]])
    callers |= {f"worker {i}": mint.headers("social_worker", worker_id=w) for i, w in enumerate(workers[:2])}
    expected = {**theirs, "self": theirs[stations[0]] | {next(iter(theirs[stations[1]]))},
                **{f"worker {i}": {w} for i, w in enumerate(workers[:2])}}
    seen: dict = {who: [] for who in callers}
    cursors: dict = dict.fromkeys(callers)
    for _ in range(3):  # limit 2: each caller's pages interleaved with the others'
        for who, headers in callers.items():
            if cursors[who] == "done":
                continue
            r = await app_client.get("/v1/workers", headers=headers, params={
                "limit": 2, **({"cursor": cursors[who]} if cursors[who] else {})})
            assert r.status_code == 200, r.text
            seen[who] += [w["id"] for w in r.json()["items"]]
            cursors[who] = r.json()["next_cursor"] or "done"
    assert {who: set(ids) for who, ids in seen.items()} == expected
    assert all(len(ids) == len(set(ids)) for ids in seen.values())  # no worker twice
    for token in (mint.token("bureau_admin", ttl=-60), mint.token("bureau_admin", aud="another-system"),
                  mint.token("bureau_admin", iss="https://other-gateway.example")):
        assert_problem(await app_client.get("/v1/workers", headers={"Authorization": f"Bearer {token}"}), 401)
    assert_problem(await app_client.get("/v1/workers", headers={
        "Authorization": f"Basic {mint.token('bureau_admin')}"}), 401)
