"""Runs last: no whole ID number of a demo person (or of the people the other checks created) is in any log.

Before scanning, it provokes the paths most likely to log a number: an import row whose ID number has a wrong
check character, a duplicate ID number, and a search by a whole ID number.
"""

from __future__ import annotations

import re

from devstack.demo_data import demo_people


def test_no_whole_id_number_in_the_service_logs(suite, hr):
    people = [p["身份证号"] for p in demo_people()]
    admin = suite.admin()
    wrong_check = people[0][:17] + ("0" if people[0][17] != "0" else "1")
    rows = [{"name": "校验错", "id_number": wrong_check, "station": "乌兰镇社工站", "full_time": "是",
             "role": "社工站社工", "start_date": "2024-01-01"},
            {"name": "重复者", "id_number": people[1], "station": "乌兰镇社工站", "full_time": "是",
             "role": "社工站社工", "start_date": "2024-01-01"}]
    imported = hr.post("/registry/v1/workers/import", rows)
    assert imported["totals"]["created"] == 0, imported  # both refused or matched, never created again
    admin.post("/registry/v1/workers", {"name": "重复者", "id_number": people[2]}, expect=(409, 422))
    admin.post("/registry/v1/workers", {"name": "校验错", "id_number": wrong_check}, expect=422)
    admin.get("/registry/v1/workers", params={"q": people[3]})

    logs = sorted((suite.state / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"gateway.log", "registry.log", "subsidy.log", "projects.log"}
    numbers = set(people) | {wrong_check}
    pattern = re.compile("|".join(re.escape(n) for n in numbers))
    found = []
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert len(text) > 1000, path  # the services did log (requests, events)
        found += [f"{path.name}: ...{text[max(0, m.start() - 120):m.end() + 40]}..." for m in pattern.finditer(text)]
    assert not found, "\n".join(found[:10])
