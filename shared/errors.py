"""One error hierarchy, rendered by one handler as RFC 9457 problem details with the request id."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.logs import request_id_var

log = logging.getLogger("shared.errors")
PROBLEM_JSON = "application/problem+json"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class AppError(Exception):
    """Business code raises these; it never builds responses."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str | None = None, *, field: str | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field
        self.extra = extra


class BadRequest(AppError):
    status, title = 400, "Bad request"


class Unauthorized(AppError):
    """401 with the challenge RFC 6750 asks for: `Bearer error="invalid_token"` (and why) by default, for a
    token that was sent and refused; `authenticate` sends a bare `Bearer` when no token came at all."""

    status, title = 401, "Not authenticated"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        super().__init__(detail, **kwargs)
        reason = self.detail.replace("\\", "").replace('"', "'")
        self.extra.setdefault("headers", {"WWW-Authenticate":
                                          f'Bearer error="invalid_token", error_description="{reason}"'})


class NotPermitted(AppError):
    status, title = 403, "Not permitted"


class NotFound(AppError):
    status, title = 404, "Not found"


class Conflict(AppError):
    status, title = 409, "Conflict"


class PayloadTooLarge(AppError):
    status, title = 413, "Payload too large"


class Invalid(AppError):
    """A value that is well-formed but breaks a rule; `field` names it."""

    status, title = 422, "Invalid input"


class TooManyRequests(AppError):
    status, title = 429, "Too many requests"


class Unavailable(AppError):
    status, title = 503, "Service unavailable"


class UpstreamTimeout(AppError):
    status, title = 504, "Upstream timeout"


# A prefix the gateway forwards: path segments of unreserved characters only (it is echoed back).
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+)+")
FORWARDED_PREFIX = "x-forwarded-prefix"


def called_path(request: Request) -> str:
    """The path the client called. Behind the gateway that is the prefix the gateway forwards
    (X-Forwarded-Prefix, e.g. `/registry`) and the service's own path; the gateway strips any such header
    a client sends. An app that is itself the edge (the gateway) sets `state.trust_forwarded_prefix = False`."""
    path = request.url.path
    app = request.scope.get("app")
    if app is not None and not getattr(app.state, "trust_forwarded_prefix", True):
        return path
    prefix = request.headers.get(FORWARDED_PREFIX, "")
    return prefix + path if _PREFIX.fullmatch(prefix) else path


def problem(status: int, title: str, detail: str, *, request: Request | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = called_path(request)
    body["request_id"] = request_id_var.get()
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `field` names the offending input, `errors` lists every invalid one.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                           "type": {"type": ["string", "null"]}}}},
    },
}


def document_problems(spec: dict) -> dict:
    """Describe errors as they are sent: 422 and every other error status are problem+json (FastAPI's
    generated 422 says application/json with its HTTPValidationError body)."""
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = content
            responses.setdefault("default", {"description": "Problem details (any other error)", "content": content})
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    return spec


# Data exceptions (SQLSTATE class 22) the database raises for a value a request carried: 22000 is also what
# asyncpg raises when it cannot encode an argument (an integer beyond the column's range).
_INPUT_DATA_ERRORS = {
    "22000": "a value is out of range for storage",
    "22003": "a number is out of range",
    "22008": "a date or time is out of range",
    "22021": "text contains a character that cannot be stored (NUL)",
}
_REASON_RE = re.compile(r"\(([^()]*out of [^()]*range)\)\s*$")


def _database_unavailable(exc: DBAPIError) -> bool:
    """Connection exceptions (SQLSTATE class 08), the server shutting down or starting up (57P01-57P03), or a
    connection that died under the statement: the request can be retried once the database is back."""
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return (exc.connection_invalidated or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}
            or isinstance(exc.orig, ConnectionError)
            or type(exc.orig).__name__ in {"ConnectionDoesNotExistError", "CannotConnectNowError"})


def allowed_methods(request: Request) -> list[str]:
    """Every method the path answers: FastAPI makes one route per method, and Starlette's 405 names only
    the methods of the first route whose path matched. Each method is tried against the routes' own
    matching (it also sees into included routers)."""
    routes = request.app.router.routes
    return [method for method in HTTP_METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]


def install_error_handlers(app: FastAPI) -> None:
    generate_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        headers = exc.extra.pop("headers", None)
        return problem(exc.status, exc.title, exc.detail, request=request, field=exc.field,
                       headers=headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {"field": _loc_to_field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):  # not JSON at all: the syntax is wrong, a 400
            return problem(400, "Bad request", "body: the body is not valid JSON", request=request, field="body",
                           errors=[{"field": "body", "message": "the body is not valid JSON", "type": "json_invalid"}])
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, "Invalid input", detail, request=request, field=first["field"] or None,
                       errors=errors)

    @app.exception_handler(ConnectionError)
    async def _connection_lost(request: Request, exc: ConnectionError):
        """The database refused or dropped the connection (it is restarting): retry later, not a bug."""
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        return problem(503, "Service unavailable", "the database is unavailable; retry shortly", request=request,
                       headers={"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _data_error(request: Request, exc: DBAPIError):
        """The last line of defence for input the schemas let through (they should bound it, naming the field)."""
        if _database_unavailable(exc):
            return await _connection_lost(request, exc)  # type: ignore[arg-type]
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate not in _INPUT_DATA_ERRORS:
            raise exc
        reason = _REASON_RE.search(str(exc.orig).splitlines()[0] if str(exc.orig) else "")
        detail = _INPUT_DATA_ERRORS[sqlstate] + (f" ({reason.group(1)})" if reason else "")
        log.warning("input rejected by the database on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(422, "Invalid input", detail, request=request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated"}.get(
            exc.status_code, "HTTP error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem(exc.status_code, title, str(exc.detail), request=request, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        request_id = request_id_var.get()
        # Sent by the outermost layer, past the middleware that adds X-Request-ID to every other answer.
        return problem(500, "Internal error", "an unexpected error occurred; quote the request id",
                       request=request, headers={"X-Request-ID": request_id} if request_id else None)
