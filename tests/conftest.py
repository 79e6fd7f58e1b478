"""Session fixtures: one real embedded PostgreSQL and one real Kafka-protocol broker for the whole run."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.contracts.events import all_topics
from shared.events.kafka import ensure_topics
from tests.support import DemoStack, TokenMint, launch_stack, read_until, stop_stack

os.environ.setdefault("SOCIALWORK_ENV", "test")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A temporary folder of this run's own, outside /tmp/pytest-of-<user>: every pytest that starts there
    takes the group and other bits off that folder, and the embedded PostgreSQL, which runs as its own user
    when the tests run as root, then loses access to its data directory in the middle of another run."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):  # xdist workers get theirs
        config.option.basetemp = tempfile.mkdtemp(prefix="socialwork-tests-")
        config._socialwork_basetemp = config.option.basetemp


# Under `make test` the suite runs on two pytest-xdist workers (`-n 2 --dist loadscope --no-loadscope-reorder`,
# with the scheduler below). A group goes to one worker whole, so a session or module fixture is started once:
# every test on the demo stack is one group, the fuzzer's stack another, every other file its own. Groups are
# handed out in the order the collection is sorted into, longest first (the demo group, then the fuzzer, then the
# stack-launching reliability files), so the two workers end together instead of one waiting for the demo at the
# end. (xdist's own `loadgroup` names groups by rewriting node ids, which pytest 9 no longer allows.)
_DEMO = ("tests/e2e/", "tests/security/", "tests/console/")
_LONG_FIRST = ("tests/fuzz/", "tests/reliability/", "tests/test_devstack.py", "tests/test_deploy.py")


def _group(nodeid: str) -> str:
    path = nodeid.replace("\\", "/").split("::")[0]
    if path.startswith(_DEMO):
        return "demo"
    if path.startswith("tests/fuzz/"):
        return "fuzz"
    return path


def _rank(nodeid: str) -> tuple[int, bool]:
    path = nodeid.replace("\\", "/")
    if _group(nodeid) == "demo":
        return 0, path.startswith("tests/console/")
    return 1 + next((i for i, prefix in enumerate(_LONG_FIRST) if path.startswith(prefix)), len(_LONG_FIRST)), False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(session, config, items):
    """The groups' order (see above). Within the demo group the console's browser tests run last: they share the
    demo stack with the e2e and security tests, which check the demo's figures as the demo left them, and the
    console changes data (applications, a batch)."""
    items.sort(key=lambda item: _rank(item.nodeid))


def pytest_sessionfinish(session, exitstatus):
    session.config._socialwork_exitstatus = exitstatus


def pytest_unconfigure(config):
    """After every fixture is torn down: the folder is kept when something failed (logs and data directories
    to look at), removed otherwise."""
    basetemp = getattr(config, "_socialwork_basetemp", None)
    if basetemp and getattr(config, "_socialwork_exitstatus", 1) == 0:
        shutil.rmtree(basetemp, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", free_port(), fast=True)
    server.start()
    yield server
    server.stop(mode="immediate")


@pytest.fixture(scope="session")
async def broker(tmp_path_factory):
    server = EmbeddedBroker(free_port(), log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    server.start()
    await ensure_topics(server.bootstrap, all_topics())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mint() -> TokenMint:
    return TokenMint()


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory) -> DemoStack:
    """The whole suite as processes, started by the same launcher as `make run`, with the demo: one launch for
    the end-to-end and the security tests (loading the demo is the longest wait of the run). The gateway's
    rate limits are pinned (they are also its defaults): the security tests measure them."""
    home = tmp_path_factory.mktemp("demo-stack")
    proc, ports = launch_stack(home, {"GATEWAY_RATE_LIMIT_PER_SECOND": str(DemoStack.RATE_PER_SECOND),
                                      "GATEWAY_RATE_LIMIT_BURST": str(DemoStack.RATE_BURST),
                                      "GATEWAY_RATE_LIMIT_ENABLED": "true"}, demo=True)
    try:
        banner = read_until(proc, "Press Ctrl-C", timeout=900)
        yield DemoStack.of(home / "state", ports, banner)
    finally:
        stop_stack(proc)
