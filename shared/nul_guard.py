"""PostgreSQL text cannot hold U+0000: a NUL in the path, the query or a JSON/form body is refused up front.

Without this a NUL reaches the database and fails there (CharacterNotInRepertoireError -> 500). One ASGI
middleware answers 422 problem+json naming the field, for every route, before any handler runs. Only requests
that carry a NUL pay for more than a substring test (the body is parsed again to name the field).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from shared.errors import problem

NUL = "\x00"
# Bodies are held for the scan up to this size; a larger one streams on unscanned (the database error handler
# still answers 422 then, without naming the field), so the gateway's size limit is never bypassed by buffering.
MAX_SCAN_BYTES = 1024 * 1024


def _nul_path(node: Any, loc: tuple = ()) -> tuple | None:
    """The location of the first string (key or value) holding a NUL in a parsed JSON document."""
    if isinstance(node, str):
        return loc if NUL in node else None
    if isinstance(node, dict):
        for key, value in node.items():
            if NUL in key:
                return (*loc, key)
            found = _nul_path(value, (*loc, key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _nul_path(value, (*loc, index))
            if found is not None:
                return found
    return None


def _form_field(raw: str) -> str | None:
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if NUL in key or NUL in value:
            return key.replace(NUL, "\\u0000")
    return None


def _field_name(loc: tuple) -> str:
    return ".".join(str(part).replace(NUL, "\\u0000") for part in loc) or "body"


class RejectNulMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        field = where = None
        if NUL in scope["path"]:
            field, where = "path", "the path"
        query = scope.get("query_string") or b""
        if field is None and (b"%00" in query or b"\x00" in query):
            field = _form_field(query.decode("utf-8", "replace"))
            where = "query parameter"
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        content_type = content_type.split(b";")[0].strip().lower()
        is_json = content_type == b"application/json" or content_type.endswith(b"+json")
        is_form = content_type == b"application/x-www-form-urlencoded"
        if field is None and (is_json or is_form):
            messages, body = [], b""
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
                if len(body) > MAX_SCAN_BYTES:
                    body = b""
                    break
            if is_json and b"\\u0000" in body:
                try:
                    loc = _nul_path(json.loads(body))
                except ValueError:  # not JSON: the route's own validation answers
                    loc = None
                if loc is not None:
                    field, where = _field_name(loc), "field"
            elif is_form and (b"%00" in body or b"\x00" in body):
                field = _form_field(body.decode("utf-8", "replace"))
                where = "form field"
            pending = iter(messages)

            async def replay():
                return next(pending, None) or await receive()

            downstream_receive = replay
        else:
            downstream_receive = receive
        if field is None:
            return await self.app(scope, downstream_receive, send)
        message = "text must not contain NUL characters (U+0000)"
        detail = f"{field}: {message}" if where != "the path" else f"the path: {message}"
        response = problem(422, "Invalid input", detail, request=Request(scope), field=field,
                           errors=[{"field": field, "message": message, "type": "string_nul"}])
        return await response(scope, downstream_receive, send)
