"""Operational endpoints are off the public path: services' /metrics only with the scrape token, their own docs
and descriptions never through the gateway; the merged /docs and /openapi.json stay public."""

from __future__ import annotations

import json
import time

import httpx
import pytest

SERVICES = ("registry", "subsidy", "projects")
TIMEOUT = 60  # the merged description gathers every service's: slow on a busy machine


@pytest.fixture(scope="module")
def scrape(suite) -> dict[str, str]:
    token = json.loads((suite.state / "secrets.json").read_text())["METRICS_SCRAPE_TOKEN"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("service", SERVICES)
def test_service_metrics_need_the_scrape_token_through_the_gateway(suite, scrape, service):
    admin = suite.admin()
    for headers in ({}, {"Authorization": f"Bearer {admin.token}"}, {"Authorization": "Bearer wrong"}):
        for path in (f"/{service}/metrics", f"/{service}//metrics", f"/{service}/metrics/", f"/{service}/./metrics",
                     f"/{service}/%6detrics", f"/{service}/v1/../metrics"):
            response = httpx.get(suite.gateway + path, headers=headers, timeout=TIMEOUT)
            assert response.status_code in (401, 404), (path, headers, response.status_code)
            assert "http_request_duration_seconds" not in response.text
    scraped = httpx.get(f"{suite.gateway}/{service}/metrics", headers=scrape, timeout=TIMEOUT)
    assert scraped.status_code == 200 and "http_request_duration_seconds" in scraped.text
    # On the service's own (internal) port the token is required too.
    assert httpx.get(f"{suite.direct(service)}/metrics", timeout=TIMEOUT).status_code == 401
    assert httpx.get(f"{suite.direct(service)}/metrics", headers=scrape, timeout=TIMEOUT).status_code == 200


def test_gateway_metrics_need_the_scrape_token(suite, scrape):
    assert httpx.get(f"{suite.gateway}/metrics", timeout=TIMEOUT).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert httpx.get(f"{suite.gateway}/metrics", headers=wrong, timeout=TIMEOUT).status_code == 401
    scraped = httpx.get(f"{suite.gateway}/metrics", headers=scrape, timeout=TIMEOUT)
    assert scraped.status_code == 200 and "http_request_duration_seconds" in scraped.text


@pytest.mark.parametrize("service", SERVICES)
def test_services_own_docs_are_not_proxied_but_the_merged_ones_are_public(suite, scrape, service):
    admin = {"Authorization": f"Bearer {suite.admin().token}"}
    for path in ("docs", "redoc", "openapi.json", "docs/oauth2-redirect", "openapi.json/", "%64ocs"):
        for headers in ({}, admin, scrape):
            response = httpx.get(f"{suite.gateway}/{service}/{path}", headers=headers, timeout=TIMEOUT)
            assert response.status_code == 404, (path, response.status_code)
    # Public, and holding the service's paths (a service too slow to answer is left out until the next refresh).
    deadline = time.monotonic() + 90
    while True:
        merged = httpx.get(f"{suite.gateway}/openapi.json", timeout=TIMEOUT)
        assert merged.status_code == 200
        if any(p.startswith(f"/{service}/") for p in merged.json()["paths"]) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert any(p.startswith(f"/{service}/") for p in merged.json()["paths"])
    assert httpx.get(f"{suite.gateway}/docs", timeout=TIMEOUT).status_code == 200
