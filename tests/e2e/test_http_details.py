"""HTTP details a generated client relies on, as a client sees them through the gateway."""

from __future__ import annotations

import uuid

import httpx

from tests.support import assert_problem


def test_problem_instance_is_the_path_the_client_called(suite):
    admin = suite.admin()
    worker = uuid.uuid4()
    body = assert_problem(admin.http.get(f"/registry/v1/workers/{worker}"), 404)
    assert body["instance"] == f"/registry/v1/workers/{worker}"  # the service's own path is /v1/workers/...
    invalid = admin.http.post("/subsidy/v1/disbursements", json={"policy": "otog-talent-subsidy", "month": "2026-13"})
    assert assert_problem(invalid, 422, field="month")["instance"] == "/subsidy/v1/disbursements"
    spoofed = admin.http.get(f"/registry/v1/workers/{worker}", headers={"X-Forwarded-Prefix": "/elsewhere"})
    assert assert_problem(spoofed, 404)["instance"] == f"/registry/v1/workers/{worker}"


def test_401_carries_a_bearer_challenge(suite):
    missing = httpx.get(f"{suite.gateway}/registry/v1/workers", timeout=30)
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    bad = httpx.get(f"{suite.gateway}/projects/v1/projects", headers={"Authorization": "Bearer not-a-token"},
                    timeout=30)
    assert_problem(bad, 401)
    assert bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_405_lists_every_method_of_the_path(suite):
    admin = suite.admin()
    response = admin.http.delete("/registry/v1/workers")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"
    item = admin.http.put(f"/registry/v1/workers/{uuid.uuid4()}")
    assert_problem(item, 405)
    assert item.headers["allow"] == "GET, PATCH"
