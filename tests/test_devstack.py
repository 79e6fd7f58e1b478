"""`make run`'s launcher as a real process: everything comes up ready, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil

from devstack.embedded import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _launch(tmp_path, extra_env=None):
    ports = {name: free_port() for name in ("GATEWAY", "REGISTRY", "SUBSIDY", "PROJECTS", "POSTGRES", "BROKER")}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")
           and k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update({f"{k}_PORT": str(v) for k, v in ports.items()})
    env.update({"SOCIALWORK_STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    proc = subprocess.Popen([sys.executable, "-m", "devstack", "run", "--no-demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, ports


def _read_until(proc, marker: str, timeout: float) -> str:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    raise AssertionError(f"launcher did not print {marker!r}; output:\n" + "".join(out))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # no init reaps here
    except psutil.NoSuchProcess:
        return False


def test_run_brings_everything_up_and_ctrl_c_leaves_no_process(tmp_path):
    proc, ports = _launch(tmp_path)
    try:
        output = _read_until(proc, "Press Ctrl-C", timeout=180)
        assert f"http://127.0.0.1:{ports['GATEWAY']}" in output
        assert "admin login: admin / " in output
        for name in ("GATEWAY", "REGISTRY", "SUBSIDY", "PROJECTS"):
            ready = httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=5)
            checks = ready.json()["checks"]
            assert ready.status_code == 200 and checks["database"] == "ok", checks
            assert set(checks.values()) == {"ok"}, checks
            assert "broker" in checks or name == "GATEWAY"  # the gateway checks its upstreams instead
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 5  # four services and the broker (PostgreSQL is daemonized by pg_ctl)
        postgres_pid = int((tmp_path / "state" / "pgdata" / "postmaster.pid").read_text().split()[0])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        gone, alive = psutil.wait_procs(descendants, timeout=10)
        assert not alive, alive
        assert not _alive(postgres_pid)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_busy_port_stops_with_one_clear_line(tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        proc, _ = _launch(tmp_path, {"BROKER_PORT": str(busy)})
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"error: port {busy} for the Kafka broker is busy" in output
    assert "Traceback" not in output
