"""Unmasking is the bureau_admin's, needs a stated purpose, and every unmasked look is recorded."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.registry.conftest import new_id_number


async def looks(url: str, worker_id: str) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(
                "SELECT subject, roles, purpose, fields, action, request_id FROM personal_data_access "
                "WHERE worker_id = :w ORDER BY created_at"), {"w": worker_id})).all())
    finally:
        await engine.dispose()


async def test_unmasking_needs_the_admin_and_a_purpose_and_is_recorded(app_client, api, mint):
    idn = new_id_number("19900315")
    w = await api.worker(id_number=idn)
    url = f"/v1/workers/{w['id']}"
    unmask = {"unmask": "true", "purpose": "核对补贴发放名单"}
    # without a purpose, or without the role, the view stays masked and nothing is recorded
    for headers, params in ((api.admin, {}), (api.admin, {"unmask": "true"}), (api.admin, {"unmask": "true",
                                                                                           "purpose": "  "}),
                            (mint.headers("auditor"), unmask), (mint.headers("hr_system"), unmask)):
        body = (await app_client.get(url, headers=headers, params=params)).json()
        assert body["id_number"] == idn[:6] + "*" * 10 + idn[-2:] and body["birth_date"] is None, params
        assert body["birth_year"] == 1990
    assert await looks(app_client.database_url, w["id"]) == []
    admin = mint.headers("bureau_admin", sub="admin-privacy")
    r = await app_client.get(url, headers={**admin, "X-Request-ID": "look-1"}, params=unmask)
    assert r.json()["id_number"] == idn and r.json()["birth_date"] == "1990-03-15"
    listed = (await app_client.get("/v1/workers", headers=admin, params={**unmask, "q": w["name"], "limit": 500}))
    assert idn in [x["id_number"] for x in listed.json()["items"]]
    recorded = await looks(app_client.database_url, w["id"])
    assert len(recorded) == 2
    assert recorded[0] == ("admin-privacy", "bureau_admin", "核对补贴发放名单", "id_number,phone,birth_date",
                           f"GET {url}", "look-1")
    assert recorded[1].action == "GET /v1/workers"
