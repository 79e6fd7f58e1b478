"""GET /v1/stats against a reference computed here in plain Python from the same records, for every kind of caller.

The module has a database of its own (the module-scoped `app_client`), so the bureau's figures are exactly the
records made here: workers with certificates of every level obtained over a dozen years, some revoked (one of
several, or all of them), claims verified, rejected or still waiting, and employment now, ended, not yet begun,
pending, rejected, at two stations at once, twice at one station, or at an organization only."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.validators import credit_code_check_char

RANK = {"assistant": 1, "intermediate": 2, "senior": 3}
CREDIT_CODE = "91350100M00018185" + credit_code_check_char("91350100M00018185")


@dataclass
class Cert:
    level: str
    obtained_on: date
    verification: str = "verified"
    revoked_on: date | None = None


@dataclass
class Job:
    station: str | None  # a key of `stations`; None: an organization only
    start: date
    end: date | None = None
    confirmation: str = "confirmed"


@dataclass
class Person:
    id: str
    jobs: list[Job] = field(default_factory=list)
    certs: list[Cert] = field(default_factory=list)


def reference(people: list[Person], stations: dict[str, str], today: date, *, worker_ids=None,
              station_keys=None) -> dict:
    """The stats as their docstrings define them, for the workers and stations the caller may see (None: all)."""
    seen = [p for p in people if worker_ids is None or p.id in worker_ids]
    keys = set(stations) if station_keys is None else set(station_keys)
    holders = []  # (person, rank now or None, first obtained, end of the holding or None)
    for p in seen:
        verified = [c for c in p.certs if c.verification == "verified"]
        if not verified:
            continue
        valid = [c for c in verified if c.revoked_on is None]
        holders.append((p, max((RANK[c.level] for c in valid), default=None),
                        min(c.obtained_on for c in verified),
                        None if valid else max(c.revoked_on for c in verified)))
    now = [(p, rank) for p, rank, _, _ in holders if rank is not None]
    levels = dict.fromkeys(RANK, 0)
    for _, rank in now:
        levels[next(level for level, r in RANK.items() if r == rank)] += 1
    by_station = []
    for key in keys:
        here = dict.fromkeys(RANK, 0)
        for p, rank in now:
            if any(j.station == key and j.confirmation == "confirmed" and j.start <= today
                   and (j.end is None or j.end >= today) for j in p.jobs):
                here[next(level for level, r in RANK.items() if r == rank)] += 1
        if sum(here.values()):
            by_station.append({"station_id": stations[key], "total": sum(here.values()), "by_level": here})
    by_station.sort(key=lambda s: (-s["total"], s["station_id"]))
    first = min((since.year for _, _, since, _ in holders), default=None)
    by_year = [] if first is None else [
        {"year": year, "total": sum(1 for _, _, since, until in holders
                                    if since.year <= year and (until is None or until.year > year))}
        for year in range(first, today.year + 1)]
    return {"workers": len(seen), "stations": len(keys), "certificate_holders": {
        "total": len(now), "by_level": levels, "by_station": by_station, "by_year": by_year}}


def plan(today: date) -> list[Person]:
    """Hand-picked cases first, then varied ones from a fixed seed; ids are filled in when they are recorded."""
    def d(days: int) -> date:  # at least a day back: the API takes no future date by its own (UTC) clock
        return today - timedelta(days=days)
    ago = d(400)  # employments of the hand-picked cases begin over a year back
    cases = [
        Person("", [Job("a", ago)], [Cert("assistant", date(2014, 3, 1)), Cert("intermediate", date(2019, 7, 1))]),
        # highest level revoked: an assistant now, holding since 2013
        Person("", [Job("a", ago)], [Cert("senior", date(2013, 5, 1), revoked_on=date(2016, 1, 4)),
                                     Cert("assistant", date(2017, 2, 1))]),
        # every certificate revoked, the last in 2021: held 2015 to 2020
        Person("", [Job("b", ago)], [Cert("assistant", date(2015, 1, 1), revoked_on=date(2018, 6, 1)),
                                     Cert("intermediate", date(2018, 9, 1), revoked_on=date(2021, 3, 1))]),
        # obtained and revoked in the same year: counted at no year's end
        Person("", [Job("b", ago)], [Cert("assistant", date(2020, 2, 1), revoked_on=date(2020, 11, 1))]),
        # at two stations now (part-time at the second), twice at one (full- and part-time)
        Person("", [Job("a", ago), Job("b", d(100))], [Cert("senior", date(2022, 1, 1))]),
        Person("", [Job("c", ago), Job("c", d(30))], [Cert("intermediate", date(2012, 12, 31))]),
        # left, ends today (still there), begins next month, organization only, no employment at all
        Person("", [Job("a", ago, d(1))], [Cert("assistant", date(2016, 6, 1))]),
        Person("", [Job("b", ago, today)], [Cert("assistant", date(2016, 6, 1))]),
        Person("", [Job("c", today + timedelta(days=30))], [Cert("intermediate", date(2023, 8, 1))]),
        Person("", [Job(None, ago)], [Cert("senior", date(2024, 1, 1))]),
        Person("", [], [Cert("assistant", d(1))]),
        # claims: waiting and rejected never count, verified counts
        Person("", [Job("a", ago)], [Cert("senior", date(2021, 4, 1), verification="claimed")]),
        Person("", [Job("a", ago)], [Cert("senior", date(2021, 4, 1), verification="rejected")]),
        Person("", [Job("a", ago)], [Cert("senior", date(2021, 4, 1), verification="claimed-verified"),
                                     Cert("assistant", date(2011, 4, 1), verification="rejected")]),
        # a manager's back-dated employment: pending, rejected, confirmed by the bureau
        Person("", [Job("a", ago), Job("b", d(120), confirmation="pending")], [Cert("assistant", d(5))]),
        Person("", [Job("a", ago), Job("b", d(120), confirmation="rejected")], [Cert("assistant", d(5))]),
        Person("", [Job("a", ago), Job("b", d(120), confirmation="confirmed-later")],
               [Cert("intermediate", d(5))]),
        Person("", [Job("b", ago)], []),  # a worker without certificates
    ]
    rng = random.Random(18)
    for _ in range(24):
        start = d(rng.randrange(30, 4000))
        jobs = [Job(rng.choice("abc"), start, rng.choice([None, None, start + timedelta(days=rng.randrange(1, 30))]))]
        certs = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            obtained = d(rng.randrange(2, 4800))
            revoked = obtained + timedelta(days=rng.randrange(0, (today - obtained).days - 1))
            certs.append(Cert(rng.choice(list(RANK)), obtained, rng.choice(["verified"] * 4 + ["claimed"]),
                              revoked if rng.random() < 0.25 else None))
        cases.append(Person("", jobs, [c for c in certs if not (c.revoked_on and c.verification != "verified")]))
    return cases


async def record(client, api, mint, person: Person, stations: dict[str, str], organization_id: str) -> None:
    """Through the API: the bureau records, an untrusted HR system claims certificates (verified or rejected by a
    second bureau_admin) and a station manager records the back-dated employments (pending until decided)."""
    w = await api.worker()
    person.id = w["id"]
    hr = mint.headers("hr_system", sub="hr-untrusted", client_id="hr-untrusted")
    manager = mint.headers("station_manager", station_ids=list(stations.values()))
    second_admin = mint.headers("bureau_admin", sub="second-admin")
    for job in person.jobs:  # the first full-time, any other part-time (full-time ones may not overlap)
        body = {"start_date": job.start.isoformat(), "end_date": job.end and job.end.isoformat(),
                "full_time": job is person.jobs[0], "role": "社工站社工",
                **({"station_id": stations[job.station]} if job.station else {"organization_id": organization_id})}
        decided = job.confirmation != "confirmed"
        r = await client.post(f"/v1/workers/{w['id']}/employments", headers=manager if decided else api.admin,
                              json=body)
        assert r.status_code == 201 and r.json()["confirmation"] == ("pending" if decided else "confirmed"), r.text
        if job.confirmation in ("confirmed-later", "rejected"):
            confirm = job.confirmation == "confirmed-later"
            r = await client.post(f"/v1/workers/{w['id']}/employments/{r.json()['id']}/"
                                  f"{'confirm' if confirm else 'reject'}", headers=api.admin)
            job.confirmation = "confirmed" if confirm else "rejected"  # what the reference counts, not the answer
            assert r.status_code == 200 and r.json()["confirmation"] == job.confirmation, r.text
    for n, cert in enumerate(person.certs):
        claim = cert.verification != "verified"
        r = await client.post(f"/v1/workers/{w['id']}/certificates", headers=hr if claim else api.admin, json={
            "level": cert.level, "certificate_no": f"C-{n}", "obtained_on": cert.obtained_on.isoformat()})
        assert r.status_code == 201 and r.json()["verification"] == ("claimed" if claim else "verified"), r.text
        url = f"/v1/workers/{w['id']}/certificates/{r.json()['id']}"
        if cert.verification in ("rejected", "claimed-verified"):
            verify = cert.verification == "claimed-verified"
            r = await client.post(f"{url}/{'verify' if verify else 'reject'}", headers=second_admin,
                                  json=None if verify else {"reason": "no such exam result"})
            cert.verification = "verified" if verify else "rejected"
            assert r.status_code == 200 and r.json()["verification"] == cert.verification, r.text
        if cert.revoked_on is not None:
            r = await client.post(f"{url}/revoke", headers=api.admin, json={
                "revoked_on": cert.revoked_on.isoformat(), "reason": "违规"})
            assert r.status_code == 200, r.text


async def test_stats_match_a_plain_python_reference_for_every_caller(app_client, api, mint):
    stations = {key: (await api.station(f"统计站-{key}"))["id"] for key in "abc"}
    organization = await app_client.post("/v1/organizations", headers=api.admin, json={
        "name": "鄂托克旗统计服务中心", "type": "social_work_agency", "credit_code": CREDIT_CODE})
    assert organization.status_code == 201, organization.text
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    people = plan(today)
    for person in people:
        await record(app_client, api, mint, person, stations, organization.json()["id"])

    everything = reference(people, stations, today)
    holders = everything["certificate_holders"]
    # the reference is not trivial: every kind of figure is there
    assert holders["total"] >= 20 and all(holders["by_level"].values()) and len(holders["by_station"]) == 3
    assert len({row["total"] for row in holders["by_year"]}) > 3
    for role in ("bureau_admin", "auditor", "service", "hr_system"):
        r = await app_client.get("/v1/stats", headers=mint.headers(role))
        assert r.status_code == 200, r.text
        assert r.json() == everything, role

    # a station manager: the workers ever employed at their stations, the holders now at those stations
    def at(keys: set[str]) -> set[str]:
        return {p.id for p in people if any(j.station in keys for j in p.jobs)}
    manager = mint.headers("station_manager", station_ids=[stations["a"], stations["b"]])
    r = await app_client.get("/v1/stats", headers=manager)
    assert r.json() == reference(people, stations, today, worker_ids=at({"a", "b"}), station_keys={"a", "b"})
    r = await app_client.get("/v1/stats", headers=mint.headers("station_manager", station_ids=[stations["c"]]))
    assert r.json() == reference(people, stations, today, worker_ids=at({"c"}), station_keys={"c"})

    # a social worker: themselves, and the stations they were ever employed at
    for person in (people[4], people[2], people[8], people[14], people[-1]):
        me = mint.headers("social_worker", worker_id=person.id)
        keys = {j.station for j in person.jobs if j.station is not None}
        assert (await app_client.get("/v1/stats", headers=me)).json() == reference(
            people, stations, today, worker_ids={person.id}, station_keys=keys)
    nobody = {"workers": 0, "stations": 0, "certificate_holders": {
        "total": 0, "by_level": dict.fromkeys(RANK, 0), "by_station": [], "by_year": []}}
    assert (await app_client.get("/v1/stats", headers=mint.headers("social_worker"))).json() == nobody
    assert (await app_client.get("/v1/stats", headers=mint.headers("station_manager"))).json() == nobody
