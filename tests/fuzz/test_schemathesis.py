"""Bad input at scale: Schemathesis against the gateway's merged OpenAPI, one run per service prefix.

The CLI runs as a subprocess with a generated config (its own process: Hypothesis, its worker threads and its
requests session stay out of pytest's event loop), every phase on: the schema's examples, the coverage phase
(boundaries, wrong types, missing fields, NUL bytes, huge numbers), random fuzzing, and the stateful phase, which
chains operations by the links Schemathesis infers from the response schemas and path parameters (the merged
description declares no OpenAPI links). The JSON report is asserted on: no failure of any check, no error, at
least MIN_CASES generated cases per service. Checks: no 5xx, every 4xx/5xx is problem+json (tests/fuzz/hooks.py),
documented status codes, content types, headers and response bodies conform to the schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

MIN_CASES = 500
# One worker: with several, Hypothesis parses lambda sources from concurrent threads and CPython 3.11 before 3.11.8
# fails that at random ("AST constructor recursion depth mismatch", python/cpython#106905). Two cores gain little.
# Examples per operation and phase; the coverage and stateful phases add their own cases on top.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
# Operations outside the three prefixes are the gateway's own (/auth/..., health).
SCOPES = {
    "registry": r"^/registry/",
    "subsidy": r"^/subsidy/",
    "projects": r"^/projects/",
}


# Share of cases whose path parameters name a seeded object (tests/fuzz/seed.py) instead of a generated value.
KNOWN_ID_PROBABILITY = 0.6


def config_toml(report: Path, known_ids: dict[str, list[str]]) -> str:
    lines = [
        f"seed = {SEED}",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        'database = "none"',
        "[checks]",
        "enabled = false",
        *(f"{name}.enabled = true" for name in (*CHECKS, "error_is_problem_json")),
        "[reports.json]",
        "enabled = true",
        f"path = {json.dumps(str(report))}",
    ]
    for name, values in known_ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    binding = '{{ dictionary = "{}", probability = {} }}'
    lines += [f'"path.{name}" = ' + binding.format(name, KNOWN_ID_PROBABILITY) for name in known_ids]
    return "\n".join(lines) + "\n"


def run_schemathesis(gateway: str, token: str, scope: str, workdir: Path,
                     known_ids: dict[str, list[str]]) -> tuple[dict, str]:
    report = workdir / "report.json"
    config = workdir / "schemathesis.toml"
    config.write_text(config_toml(report, known_ids))
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{gateway}/openapi.json", "--include-path-regex", scope, "--workers", "1",
        "--header", f"Authorization: Bearer {token}", "--request-timeout", "30",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": ROOT}
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert report.exists(), f"schemathesis wrote no report (exit {proc.returncode}):\n{output[-6000:]}"
    return json.loads(report.read_text()), output


@pytest.mark.parametrize("service", list(SCOPES))
def test_bad_input_at_scale(stack, service, tmp_path):
    body, output = run_schemathesis(stack.gateway, stack.admin_token, SCOPES[service], tmp_path, stack.known_ids)
    failures = output[output.find("FAILURES"):] if "FAILURES" in output else output
    assert body["failures"] == [] and body["errors"] == [], f"{body['failures']} {body['errors']}\n{failures[-20000:]}"
    assert body["exit_code"] == 0 and body["complete"], output[-6000:]
    operations = body["operations"]
    assert operations["selected"] >= 15 and operations["tested"] == operations["selected"], operations
    assert body["test_cases"]["generated"] >= MIN_CASES, body["test_cases"]
    assert body["phases"]["stateful"]["status"] == "success", body["phases"]
