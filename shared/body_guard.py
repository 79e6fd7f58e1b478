"""Request bodies refused before any handler parses them: JSON nested too deeply, and NUL characters.

Nesting: JSON nested 1,000 deep makes Python's parser (and anything recursive after it: validation, str(),
the JSON encoder) raise RecursionError, a 500. No request of this API nests more than a few levels, so a JSON
body nested deeper than MAX_JSON_DEPTH is answered 400 problem+json up front, for every route. The depth is
measured without parsing: strings are cut out and bracket pairs removed innermost first, at C speed
(a 10 MB import costs about one more parse of it; bodies with at most 32 brackets cost a count).

NUL: PostgreSQL text cannot hold U+0000: a NUL in the path, the query or a JSON/form body would reach the
database and fail there (CharacterNotInRepertoireError -> 500); it is answered 422 naming the field. Only
requests that carry a NUL pay for more than a substring test (the body is parsed again to name the field).

JSON and form bodies are held whole for the scan (the handlers read them whole anyway). The gateway does not
scan what it proxies (`skip_prefixes`): each service scans its own requests, and the gateway streams.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from shared.errors import problem

NUL = "\x00"
MAX_JSON_DEPTH = 32
# Escapes removed first (`\\` then `\"`), a JSON string is a quote, anything but a quote, a quote.
_JSON_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects more than `limit` deep (malformed text is left to the parser)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _JSON_STRING.sub(b"", unescaped).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not reduced:
            return False
        if reduced == brackets:  # brackets that do not match (malformed): count the depth the slow way
            depth = 0
            for char in reduced:
                depth += 1 if char in b"[{" else -1
                if depth > limit:
                    return True
            return False
        brackets = reduced
    return True


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


def _drained(messages: list[dict], receive):
    """A receive that hands on the messages already read, then the rest from the server."""
    pending = iter(messages)

    async def replay():
        return next(pending, None) or await receive()

    return replay


class BodyGuardMiddleware:
    def __init__(self, app, *, skip_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.skip_prefixes = skip_prefixes

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
        if field is None and (is_json or is_form) and not scope["path"].startswith(self.skip_prefixes):
            messages, chunks = [], []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            if len(chunks) > 1:  # handed on as one message: the chunks are not held twice
                messages = [{"type": "http.request", "body": body, "more_body": False}, *messages[len(chunks):]]
            del chunks
            if is_json and json_too_deep(body):
                message = f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
                response = problem(400, "Bad request", f"body: {message}", request=Request(scope), field="body",
                                   errors=[{"field": "body", "message": message, "type": "json_too_deep"}])
                return await response(scope, _drained(messages, receive), send)
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
            downstream_receive = _drained(messages, receive)
        else:
            downstream_receive = receive
        if field is None:
            return await self.app(scope, downstream_receive, send)
        message = "text must not contain NUL characters (U+0000)"
        detail = f"{field}: {message}" if where != "the path" else f"the path: {message}"
        response = problem(422, "Invalid input", detail, request=Request(scope), field=field,
                           errors=[{"field": field, "message": message, "type": "string_nul"}])
        return await response(scope, downstream_receive, send)
