"""The console's files without a browser: served with the security headers, vendored files unchanged,
no HTML built from strings, nothing loaded from another origin, every text in both languages."""

from __future__ import annotations

import hashlib
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.gateway.console.router import CSP, STATIC, mount_console

CONSOLE = STATIC.parent
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))


def client() -> TestClient:
    app = FastAPI()
    mount_console(app)
    return TestClient(app)


def test_index_and_modules_are_served_with_a_strict_policy():
    http = client()
    page = http.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
                      "require-trusted-types-for 'script'", "trusted-types 'none'"):
        assert directive in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    module = http.get("/console/js/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert module.headers["content-security-policy"] == CSP
    assert http.get("/console/vendor/chart.umd.min.js").status_code == 200
    redirect = http.get("/console", follow_redirects=False)
    assert redirect.status_code in (307, 308) and redirect.headers["location"].endswith("/console/")
    root = http.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    assert http.get("/console/nope.js").status_code == 404
    assert http.get("/console/../router.py").status_code == 404


def test_no_inline_script_and_nothing_from_another_origin():
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>\s*[^<\s]", html) == []  # every script has a src and no body
    assert len(re.findall(r"<script\b[^>]*\bsrc=", html)) == 2
    assert not re.search(r"\son\w+\s*=", html) and "style=" not in html
    for path in [STATIC / "index.html", STATIC / "console.css", *SCRIPTS]:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path


def test_no_markup_from_strings_in_the_console_code():
    forbidden = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                           r"setAttribute\(\s*['\"]on")
    for path in SCRIPTS:
        assert not forbidden.search(path.read_text()), path


def test_vendored_files_match_their_recorded_hashes():
    rows = re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|", (CONSOLE / "VENDORED.md").read_text(), flags=re.M)
    assert rows, "VENDORED.md lists no file"
    for name, digest in rows:
        assert hashlib.sha256((CONSOLE / name).read_bytes()).hexdigest() == digest, name
    vendored = {p.relative_to(CONSOLE).as_posix() for p in (STATIC / "vendor").glob("*.js")}
    assert vendored == {name for name, _ in rows}


def test_every_text_the_pages_use_exists_in_both_languages():
    i18n = (STATIC / "js" / "i18n.js").read_text()
    zh, en = i18n.split("const en = {")
    keys = {k for path in SCRIPTS for k in re.findall(r"\bt\('([^'$]+)'", path.read_text())}
    assert len(keys) > 100

    def defined(block: str, key: str) -> bool:
        return re.search(rf"(^|[\s{{,])('{re.escape(key)}'|{re.escape(key)}):", block) is not None

    missing = sorted((lang, k) for k in keys for lang, block in (("zh-CN", zh), ("en", en)) if not defined(block, k))
    assert missing == []
