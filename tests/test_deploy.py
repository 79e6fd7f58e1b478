"""deploy/: the files parse, validate against the Kubernetes schemas, and name every setting services need.

What cannot run here (no container engine on this machine): building the image and starting the compose
file. These checks catch what can be caught without one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gateway", "registry", "subsidy", "projects")


def _k8s_docs():
    return [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/socialwork.yaml").read_text()) if d]


def test_manifests_pass_the_kubernetes_schema_strictly():
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "-k", "1.30.0", "--strict", "--quiet",
                             str(ROOT / "deploy/k8s/socialwork.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _required_secret_vars(service: str) -> set[str]:
    import importlib

    module = importlib.import_module(f"services.{service}.settings")
    cls = next(v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings")
    prefix = cls.model_config.get("env_prefix", "")
    names = cls.model_fields["required_secrets"].default
    return {f"{prefix}{n}".upper() for n in names}


def test_every_deployment_has_probes_and_every_required_secret():
    deployments = {d["metadata"]["name"]: d for d in _k8s_docs() if d["kind"] == "Deployment"}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [name]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        env = {e["name"] for e in container["env"]}
        assert f"{name.upper()}_DATABASE_URL" in env
        missing = _required_secret_vars(name) - env
        assert not missing, f"{name} needs {missing}"
        assert all("value" not in e for e in container["env"]), "secrets only by reference"


def test_compose_runs_every_service_from_one_image_with_its_secrets():
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    services = compose["services"]
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft mode, no ZooKeeper
    for name in SERVICES:
        assert services[name]["command"] == [name]
        assert services[name]["image"] == "socialwork-platform:latest"
        env = services[name]["environment"]
        assert not (_required_secret_vars(name) - set(env)), name
        assert env[f"{name.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "create-topics" in " ".join(services["migrate"]["entrypoint"])


def test_image_entrypoint_starts_real_factories():
    script = (ROOT / "deploy/entrypoint.sh").read_text()
    assert subprocess.run(["sh", "-n", str(ROOT / "deploy/entrypoint.sh")]).returncode == 0
    assert re.search(r"services\.\$1\.app:create_app", script)
    for name in SERVICES:
        assert callable(__import__(f"services.{name}.app", fromlist=["create_app"]).create_app)
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for package in ("shared", "services", "devstack"):
        assert f"COPY {package} ./{package}" in dockerfile
