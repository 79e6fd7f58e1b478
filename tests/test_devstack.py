"""`make run`'s launcher as a real process: everything comes up ready, and every way it is stopped leaves no
service, broker or PostgreSQL behind: Ctrl-C on its whole process group when the parent ignored SIGINT (`cmd &`
in a script), SIGTERM while it is still starting, a service that dies, kill -9 of the launcher.

One state folder for the module: PostgreSQL's data directory is made once (initdb), later starts reuse it.
"""

from __future__ import annotations

import os
import signal
import socket

import httpx
import psutil
import pytest

from devstack.embedded import EmbeddedPostgres, _ephemeral_range, free_port
from tests.support import alive, launch_stack, read_until, stop_stack

SERVICE_PORTS = ("GATEWAY", "REGISTRY", "SUBSIDY", "PROJECTS")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("devstack")


def stack_processes(home, ports) -> list[psutil.Process]:
    """What a launcher on these ports and this state folder started: PostgreSQL (its postmaster names the
    data directory), the broker (its listener) and the services (their --port)."""
    pgdata = str(home / "state" / "pgdata")
    broker = f"127.0.0.1:{ports['BROKER']}"
    services = {str(ports[name]) for name in SERVICE_PORTS}
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmd = process.info["cmdline"] or []
        port = cmd[cmd.index("--port") + 1] if "--port" in cmd[:-1] else None
        if (pgdata in cmd or any(broker in part for part in cmd) or port in services) and alive(process.pid):
            found.append(process)
    return found


def assert_nothing_left(home, ports) -> None:
    _, still = psutil.wait_procs(stack_processes(home, ports), timeout=15)
    still = [p for p in still if alive(p.pid)]
    assert not still, [p.info["cmdline"] for p in still]


def clean_up(proc, home, ports) -> None:
    """Whatever a failed test left: the launcher, then any process of its stack, then PostgreSQL."""
    stop_stack(proc)
    for process in stack_processes(home, ports):
        process.kill()
    EmbeddedPostgres(home / "state" / "pgdata", 0).stop(mode="immediate")


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_stops_everything_even_when_the_parent_ignored_sigint(home):
    """Started as `cmd &` in a script starts it (SIGINT ignored on entry), in a process group of its own as a
    terminal's foreground job is; Ctrl-C signals the whole group. The launcher stops everything and exits 0,
    and the services do not exit on their own first (it would report `error: gateway stopped (exit 0)`)."""
    proc, ports = launch_stack(home, preexec_fn=ignore_sigint, start_new_session=True)
    try:
        output = read_until(proc, "Press Ctrl-C", timeout=180)
        assert f"http://127.0.0.1:{ports['GATEWAY']}" in output
        assert "admin login: admin / " in output and "Ready (started without the demo)." in output
        for name in SERVICE_PORTS:
            ready = httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=5)
            checks = ready.json()["checks"]
            assert ready.status_code == 200 and checks["database"] == "ok", checks
            assert set(checks.values()) == {"ok"}, checks
            assert "broker" in checks or name == "GATEWAY"  # the gateway checks its upstreams instead
        assert len(stack_processes(home, ports)) >= 6  # four services, the broker, PostgreSQL
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, rest
        assert "stopping ..." in rest and "stopped." in rest and "error" not in rest, rest
        assert_nothing_left(home, ports)
    finally:
        clean_up(proc, home, ports)


def test_sigterm_while_starting_stops_what_was_started(home):
    proc, ports = launch_stack(home)
    try:
        read_until(proc, "starting PostgreSQL", timeout=60)
        proc.send_signal(signal.SIGTERM)  # lands while PostgreSQL starts: it must come up, then be stopped
        rest, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, rest
        assert "stopped." in rest and "error" not in rest, rest
        assert_nothing_left(home, ports)
    finally:
        clean_up(proc, home, ports)


def test_a_dead_service_stops_everything_with_one_error_line(home):
    proc, ports = launch_stack(home)
    try:
        read_until(proc, "Press Ctrl-C", timeout=180)
        gateway = next(p for p in stack_processes(home, ports) if str(ports["GATEWAY"]) in p.info["cmdline"])
        gateway.kill()
        rest, _ = proc.communicate(timeout=90)
        assert proc.returncode == 1, rest
        assert "error: gateway stopped (exit -9)" in rest and "Traceback" not in rest, rest
        assert_nothing_left(home, ports)
    finally:
        clean_up(proc, home, ports)


def test_busy_port_stops_with_one_clear_line(home):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        proc, ports = launch_stack(home, {"BROKER_PORT": str(busy)})
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"error: port {busy} for the Kafka broker is busy" in output
    assert "Traceback" not in output
    assert_nothing_left(home, ports)  # PostgreSQL had started before the broker failed


def test_children_die_with_a_killed_launcher(home):
    """Even kill -9 of the launcher leaves no service or broker behind (PR_SET_PDEATHSIG)."""
    proc, ports = launch_stack(home)
    try:
        read_until(proc, "Press Ctrl-C", timeout=180)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5  # four services and the broker (PostgreSQL is daemonized by pg_ctl)
        proc.kill()
        proc.wait(10)
        _, still = psutil.wait_procs(children, timeout=15)
        assert not [p for p in still if alive(p.pid)], still
    finally:
        # PostgreSQL is daemonized by pg_ctl and outlives a SIGKILLed launcher; the next start stops it.
        clean_up(proc, home, ports)
        assert_nothing_left(home, ports)


def test_free_ports_are_outside_the_range_outgoing_connections_take_and_not_given_twice():
    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10000 <= p < low for p in ports), (low, high, [p for p in ports if not 10000 <= p < low])
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # free to bind
