"""`make run`'s launcher as a real process: everything comes up ready, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import signal

import httpx
import psutil

from tests.support import alive, launch_stack, read_until, stop_stack


def test_run_brings_everything_up_and_ctrl_c_leaves_no_process(tmp_path):
    proc, ports = launch_stack(tmp_path)
    try:
        output = read_until(proc, "Press Ctrl-C", timeout=180)
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
        _, still = psutil.wait_procs(descendants, timeout=10)
        assert not still, still
        assert not alive(postgres_pid)
    finally:
        stop_stack(proc)


def test_busy_port_stops_with_one_clear_line(tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        proc, _ = launch_stack(tmp_path, {"BROKER_PORT": str(busy)})
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"error: port {busy} for the Kafka broker is busy" in output
    assert "Traceback" not in output


def test_children_die_with_a_killed_launcher(tmp_path):
    """Even kill -9 of the launcher leaves no service or broker behind (PR_SET_PDEATHSIG)."""
    proc, _ = launch_stack(tmp_path)
    try:
        read_until(proc, "Press Ctrl-C", timeout=180)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children
        postgres_pid = int((tmp_path / "state" / "pgdata" / "postmaster.pid").read_text().split()[0])
        proc.kill()
        proc.wait(10)
        _, still = psutil.wait_procs(children, timeout=15)
        assert not [p for p in still if alive(p.pid)], still
    finally:
        stop_stack(proc)
        # PostgreSQL is daemonized by pg_ctl and outlives a SIGKILLed launcher; the next start stops it.
        from devstack.embedded import EmbeddedPostgres

        EmbeddedPostgres(tmp_path / "state" / "pgdata", 0).stop(mode="immediate")
        assert not alive(postgres_pid)
