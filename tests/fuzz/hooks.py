"""Schemathesis hooks loaded by the CLI (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): the platform's own checks."""

from __future__ import annotations

import json

import schemathesis

PROBLEM_JSON = "application/problem+json"


@schemathesis.check
def error_is_problem_json(ctx, response, case):
    """Every 4xx/5xx answer is an RFC 9457 problem: problem+json with type, title, status (= the HTTP status)
    and a detail."""
    if response.status_code < 400:
        return True
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith(PROBLEM_JSON):
        raise AssertionError(f"{response.status_code} answered as {content_type or 'no content type'!r}, "
                             f"not {PROBLEM_JSON}")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} problem body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"problem body is not an object: {body!r}")
    missing = [key for key in ("type", "title", "status", "detail") if key not in body]
    if missing:
        raise AssertionError(f"problem body lacks {missing}: {body!r}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']!r} differs from the HTTP status {response.status_code}")
    if not isinstance(body["detail"], str) or not body["detail"]:
        raise AssertionError(f"problem detail is not a non-empty string: {body!r}")
    return True
