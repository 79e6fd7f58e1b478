"""Serves the console's static files at /console/ with a strict Content-Security-Policy.

The pages are plain ES modules and a vendored Chart.js (see VENDORED.md): nothing is built, so the files
in static/ are exactly what the browser runs. The policy allows scripts, styles and connections to this
origin only, no inline script or style, and Trusted Types with no policy, so assigning a string to
innerHTML (or eval) throws in the browser instead of rendering data from the API as markup.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class ConsoleFiles(StaticFiles):
    """StaticFiles with the security headers; the browser revalidates (ETag) so a new release shows at once."""

    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_console(app: FastAPI) -> None:
    """/console/ serves index.html; /console redirects there (the router adds the slash), and so does the
    gateway's root: bureau staff type the address `make run` printed, not a path (before, a 404 problem)."""
    app.mount("/console", ConsoleFiles(directory=STATIC, html=True), name="console")
    app.add_api_route("/", lambda: RedirectResponse("/console/"), methods=["GET"], include_in_schema=False)
