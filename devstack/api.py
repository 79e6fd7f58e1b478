"""A small client of the public API through the gateway: the demo loader, the e2e tests and the tour use it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response):
        super().__init__(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                         f"{response.text[:500]}")
        self.response = response


class Api:
    """One caller (a token) talking to the gateway."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> Api:
        body = _token(base_url, {"grant_type": "password", "username": username, "password": password})
        return cls(base_url, body["access_token"])

    @classmethod
    def client(cls, base_url: str, client_id: str, client_secret: str) -> Api:
        body = _token(base_url, {"grant_type": "client_credentials", "client_id": client_id,
                                 "client_secret": client_secret})
        return cls(base_url, body["access_token"])

    def request(self, method: str, path: str, *, expect: int | tuple[int, ...] = (200, 201), **kwargs) -> Any:
        for _ in range(10):  # a well-behaved client waits as long as the gateway's 429 says
            response = self.http.request(method, path, **kwargs)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("retry-after", "1")))
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise ApiError(response)
        if response.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
            return response.json()
        return response

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def all(self, path: str, **params) -> list[dict]:
        """Every item of a cursor-paginated list."""
        items, cursor = [], None
        while True:
            page = self.get(path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})})
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def close(self) -> None:
        self.http.close()


def _token(base_url: str, form: dict) -> dict:
    response = httpx.post(f"{base_url.rstrip('/')}/auth/token", data=form, timeout=30)
    if response.status_code != 200:
        raise ApiError(response)
    return response.json()


def wait_until(check: Callable[[], Any], *, timeout: float = 120.0, interval: float = 0.5, what: str = "") -> Any:
    """Poll until `check()` is truthy (events cross the broker asynchronously); raise after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what or 'condition'} not reached within {timeout:.0f}s (last: {last!r})")
