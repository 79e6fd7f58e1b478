"""Factories for the projects tests: registry objects made through the registry's public API, and ours."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from datetime import date, timedelta

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.clock import bureau_today
from shared.validators import id_number_check_char

_seq = itertools.count(1)


def id_number() -> str:
    """A valid, unique resident ID number (Otog Banner region, checksum computed)."""
    birth = date(1970, 1, 1) + timedelta(days=random.randrange(0, 12000))
    first17 = f"150624{birth:%Y%m%d}{next(_seq) % 1000:03d}"
    return first17 + id_number_check_char(first17)


def this_month() -> str:
    return bureau_today().strftime("%Y-%m")


def next_month() -> str:
    today = bureau_today()
    return date(today.year + today.month // 12, today.month % 12 + 1, 1).strftime("%Y-%m")


class World:
    """Makes registry stations and workers (as bureau_admin through the registry's public API) and our objects."""

    def __init__(self, *, registry: httpx.AsyncClient, projects: httpx.AsyncClient, mint):
        self.registry = registry
        self.projects = projects
        self.mint = mint

    def admin(self) -> dict:
        return self.mint.headers("bureau_admin")

    def manager(self, *station_ids) -> dict:
        return self.mint.headers("station_manager", station_ids=list(station_ids))

    async def station(self, name: str | None = None) -> uuid.UUID:
        r = await self.registry.post("/v1/stations", headers=self.admin(), json={
            "name": name or f"测试社工站 {uuid.uuid4().hex[:6]}", "kind": "township", "division_code": "150624100"})
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["id"])

    async def worker(self, station_id: uuid.UUID, *, start: str = "2023-01-01", end: str | None = None) -> uuid.UUID:
        r = await self.registry.post("/v1/workers", headers=self.admin(), json={
            "name": f"社工{next(_seq)}", "id_number": id_number(), "full_time": True,
            "employment": {"station_id": str(station_id), "start_date": start, "end_date": end, "full_time": True,
                           "role": "社工站社工"}})
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["id"])

    async def call(self, **overrides) -> dict:
        today = bureau_today()
        body = {"year": today.year, "title": "社区发展基金小微项目", "total_budget_fen": 1_000_000,
                "categories": ["elderly", "children", "hardship"],
                "window_opens": str(today - timedelta(days=10)), "window_closes": str(today + timedelta(days=10)),
                "division_code": "150624", **overrides}
        r = await self.projects.post("/v1/calls", headers=self.admin(), json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def project(self, call_id, station_id, *, requested: int = 100_000, headers: dict | None = None,
                      **overrides) -> dict:
        body = {"call_id": str(call_id), "station_id": str(station_id), "lead_organization": "乌兰镇社工站",
                "title": "银龄互助", "category": "elderly", "goals": "每周探访独居老人",
                "partners": [
                    {"kind": "volunteer", "name": "志愿者协会", "role": "探访", "contribution": "每周 20 小时"},
                    {"kind": "charitable_resource", "name": "爱心企业", "role": "捐赠", "contribution": "米面油"}],
                "requested_budget_fen": requested, **overrides}
        r = await self.projects.post("/v1/projects", headers=headers or self.manager(station_id), json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def step(self, project_id, action: str, *, headers: dict | None = None, json: dict | None = None,
                   expect: int = 200) -> httpx.Response:
        r = await self.projects.post(f"/v1/projects/{project_id}/{action}", headers=headers or self.admin(), json=json)
        assert r.status_code == expect, r.text
        return r

    async def running_project(self, *, budget: int = 100_000, station_id=None) -> dict:
        """A project in progress with `budget` approved, at a new station (or the one given)."""
        station_id = station_id or await self.station()
        call = await self.call()
        project = await self.project(call["id"], station_id, requested=budget)
        await self.step(project["id"], "submit")
        await self.step(project["id"], "approve", json={"approved_budget_fen": budget})
        return (await self.step(project["id"], "start")).json()


async def read_topic(bootstrap: str, topic: str, *, keys: set[str], want: int, timeout: float = 15.0,
                     settle: float = 1.0) -> list:
    """Records of `topic` keyed by one of `keys`, read by explicit partition assignment (no group join).

    Reads until `want` records arrived (or `timeout`), then `settle` seconds more so that extra records,
    which a test wants to rule out, would be seen too.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.fetch_all_metadata()
            partitions = consumer.partitions_for_topic(topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        mine: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settled = None
        while loop.time() < (settled or deadline):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                mine.extend(r for r in batch if r.key and r.key.decode() in keys)
            if settled is None and len(mine) >= want:
                settled = loop.time() + settle
        return [json.loads(r.value) for r in mine]
    finally:
        await consumer.stop()
