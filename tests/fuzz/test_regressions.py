"""What the fuzzer found, pinned as plain requests through the gateway (each was a 500 or a spec mismatch)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import assert_problem


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.gateway, headers={"Authorization": f"Bearer {stack.admin_token}"},
                      timeout=30) as client:
        yield client


def test_nul_in_a_json_field_is_422_naming_it(http):
    response = http.post("/subsidy/v1/disbursements", json={"policy": "otog\x00", "month": "2024-01"})
    assert_problem(response, 422, field="policy")
    response = http.post("/registry/v1/stations", json={"name": "x", "kind": "township", "division_code": "150624",
                                                        "address": {"nested": ["ok", "bad\x00"]}})
    assert assert_problem(response, 422)["field"] == "address.nested.1"


def test_nul_in_the_query_or_the_path_is_422(http):
    assert_problem(http.get("/registry/v1/workers", params={"q": "a\x00b"}), 422, field="q")
    assert_problem(http.post("/subsidy/v1/policies/otog%00/versions", json={"effective_from": "2030-01-01"}), 422)


def test_nul_in_the_token_form_is_422(stack):
    response = httpx.post(f"{stack.gateway}/auth/token", data={"grant_type": "password", "username": "ad\x00min",
                                                                "password": "x"}, timeout=30)
    assert_problem(response, 422, field="username")


def test_numbers_beyond_the_columns_are_422_naming_the_field(http, stack):
    worker = stack.known_ids["worker_id"][0]
    response = http.post("/subsidy/v1/awards", json={"worker_id": worker, "award_type": "otog-talent", "title": "t",
                                                     "awarded_on": "2024-01-01",
                                                     "amount_fen": 5406301274054326879038472192})
    assert_problem(response, 422, field="amount_fen")
    response = http.post("/subsidy/v1/policies/otog-talent-subsidy/versions",
                         json={"effective_from": "2090-01-01", "rate_senior_fen": 3253937867})
    assert_problem(response, 422, field="rate_senior_fen")


def test_an_overflow_no_schema_bounds_is_still_a_422_problem(http):
    # `year` is an unbounded integer query parameter compared with an int4 column: the database refuses it.
    response = http.get("/projects/v1/calls", params={"year": 2**40})
    assert_problem(response, 422)


def test_year_zero_months_are_422(http, stack):
    worker, station = stack.known_ids["worker_id"][0], stack.known_ids["station_id"][0]
    response = http.get(f"/subsidy/v1/workers/{worker}/eligibility",
                        params={"policy": "otog-talent-subsidy", "through": "0000-01"})
    assert_problem(response, 422, field="through")
    assert_problem(http.get(f"/projects/v1/stations/{station}/summary", params={"to": "0000-01"}), 422, field="to")


def test_the_merged_description_documents_errors_as_problems(stack):
    spec = httpx.get(f"{stack.gateway}/openapi.json", timeout=30).json()
    operation = spec["paths"]["/registry/v1/workers/{worker_id}"]["get"]
    for status in ("422", "default"):
        assert list(operation["responses"][status]["content"]) == ["application/problem+json"]
    assert "Problem" in spec["components"]["schemas"]  # one for every service
    assert not any(name.endswith("_Problem") for name in spec["components"]["schemas"])
    assert not any(name.endswith("HTTPValidationError") for name in spec["components"]["schemas"])
    export = spec["paths"]["/subsidy/v1/disbursements/{disbursement_id}/export"]["get"]["responses"]["200"]
    assert "text/csv" in export["content"]
