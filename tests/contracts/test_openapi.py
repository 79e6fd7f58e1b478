"""The merged OpenAPI as outside clients take it: valid, one Problem, auth declared, and a whole generated client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from openapi_spec_validator import validate

# The public contract of the README's "Design" section (paths as the gateway serves them; parameter names aside).
PUBLIC = [
    ("post", "/auth/token"), ("post", "/auth/users"), ("post", "/auth/clients"), ("get", "/.well-known/jwks.json"),
    ("post", "/registry/v1/stations"), ("post", "/registry/v1/workers"), ("get", "/registry/v1/workers"),
    ("get", "/registry/v1/workers/{}"), ("post", "/registry/v1/workers/{}/employments"),
    ("post", "/registry/v1/workers/{}/registration"), ("post", "/registry/v1/workers/{}/certificates"),
    ("post", "/registry/v1/workers/{}/certificates/{}/revoke"), ("post", "/registry/v1/workers/import"),
    ("get", "/registry/v1/stats"), ("post", "/projects/v1/calls"), ("post", "/projects/v1/projects"),
    *[("post", f"/projects/v1/projects/{{}}/{step}") for step in ("submit", "approve", "reject", "start", "complete")],
    ("post", "/projects/v1/projects/{}/activities"), ("post", "/projects/v1/service-reports"),
    ("post", "/projects/v1/service-reports/{}/confirm"), ("get", "/subsidy/v1/policies"),
    ("get", "/subsidy/v1/workers/{}/eligibility"), ("post", "/subsidy/v1/applications"),
    ("post", "/subsidy/v1/applications/{}/approve"), ("post", "/subsidy/v1/applications/{}/reject"),
    ("post", "/subsidy/v1/disbursements"), ("get", "/subsidy/v1/disbursements/{}/lines"),
    ("get", "/subsidy/v1/disbursements/{}/export"), ("get", "/subsidy/v1/reports/summary"),
]
# What anyone may call without a token.
ANONYMOUS = {"healthz", "readyz", "issue_token", "jwks"}
# openapi-python-client sends only JSON, forms, multipart and octet-stream bodies: the import's CSV and XLSX
# bodies are sent as bytes under their own content types.
GENERATOR_CONFIG = """content_type_overrides:
  text/csv: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()
            if method in {"get", "put", "post", "delete", "patch"}]


def refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_merged_openapi_is_valid_and_keeps_the_public_paths(platform):
    spec = platform["spec"]
    validate(spec)  # openapi-spec-validator: the OpenAPI 3.1 schema and every reference
    for ref in refs(spec):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in spec["components"][section], ref
    served = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p, _ in operations(spec)}
    assert [call for call in PUBLIC if call not in served] == []


def test_one_problem_unique_titles_and_stable_operation_ids(platform):
    spec = platform["spec"]
    schemas = spec["components"]["schemas"]
    titles = Counter(s.get("title") for s in schemas.values())
    assert [t for t, n in titles.items() if n > 1] == []  # generators name their classes by title
    assert titles["Problem"] == 1 and not any(name.endswith("_Problem") for name in schemas)
    errors = [(path, status, response) for _, path, op in operations(spec)
              for status, response in op["responses"].items() if status == "default" or int(status) >= 400]
    assert len(errors) > 100
    for path, status, response in errors:
        assert response["content"] == {"application/problem+json": {"schema": {
            "$ref": "#/components/schemas/Problem"}}}, (path, status)
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    # The function name under its service's prefix: a rebuild or another service's routes do not change them.
    by_call = {(m, p): op["operationId"] for m, p, op in operations(spec)}
    assert by_call[("post", "/projects/v1/projects/{project_id}/approve")] == "projects_approve_project"
    assert by_call[("post", "/auth/token")] == "issue_token"


def test_every_protected_operation_declares_the_oauth2_flows(platform):
    spec = platform["spec"]
    assert spec["components"]["securitySchemes"] == {"OAuth2": {
        "type": "oauth2", "description": spec["components"]["securitySchemes"]["OAuth2"]["description"],
        "flows": {"password": {"tokenUrl": "/auth/token", "refreshUrl": "/auth/token", "scopes": {}},
                  "clientCredentials": {"tokenUrl": "/auth/token", "scopes": {}}}}}
    unprotected = []
    for method, path, op in operations(spec):
        if op["operationId"].split("_", 1)[-1] in ANONYMOUS or op["operationId"] in ANONYMOUS:
            assert "security" not in op, path
        elif op.get("security") != [{"OAuth2": []}]:
            unprotected.append(f"{method} {path}")
    assert unprotected == []


def test_openapi_python_client_generates_every_operation_without_a_warning(platform, tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(platform["spec"]))
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG)
    bin_dir = Path(sys.executable).parent  # the generator runs ruff from PATH on what it wrote
    result = subprocess.run(
        [bin_dir / "openapi-python-client", "generate", "--path", "openapi.json", "--config", "config.yaml",
         "--meta", "none", "--output-path", "client"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower() and "error" not in output.lower(), output
    modules = {p.stem for p in (tmp_path / "client" / "api").rglob("*.py") if p.name != "__init__.py"}
    ids = [op["operationId"] for _, _, op in operations(platform["spec"])]
    assert sorted(i for i in ids if i not in modules) == []
    assert len(modules) == len(ids)
    models = {p.stem for p in (tmp_path / "client" / "models").glob("*.py")}
    assert "problem" in models and not any(re.search(r"problem_?\d", m) for m in models)
    approve = (tmp_path / "client" / "api" / "projects_projects" / "projects_approve_project.py").read_text()
    assert "Problem.from_dict" in approve  # error answers are parsed, not dropped
