"""Session fixtures: one real embedded PostgreSQL and one real Kafka-protocol broker for the whole run."""

from __future__ import annotations

import os

import pytest

from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.contracts.events import all_topics
from shared.events.kafka import ensure_topics
from tests.support import TokenMint

os.environ.setdefault("SOCIALWORK_ENV", "test")


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
