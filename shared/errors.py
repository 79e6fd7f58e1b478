"""One error hierarchy, rendered by one handler as RFC 9457 problem details with the request id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logs import request_id_var

log = logging.getLogger("shared.errors")
PROBLEM_JSON = "application/problem+json"


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
    status, title = 401, "Not authenticated"


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


def problem(status: int, title: str, detail: str, *, request: Request | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body["request_id"] = request_id_var.get()
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
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
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, "Invalid input", detail, request=request, field=first["field"] or None,
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated"}.get(
            exc.status_code, "HTTP error")
        return problem(exc.status_code, title, str(exc.detail), request=request,
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; quote the request id",
                       request=request)
