"""Fixtures of the index tests: one anvil node with the contracts deployed per module, a chain snapshot per
test, and an empty index database per test on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select
from web3 import Web3

from tests.pg import PostgresServer, create_database, postgres_server  # noqa: F401 - fixture re-export
from trace_api.chain.client import Chain
from trace_api.config import Settings
from trace_api.index import schema as t
from trace_api.index.indexer import CHECKPOINT, Indexer
from trace_api.index.store import make_engine
from trace_api.services.context import TraceContext
from trace_api.services.deploy import scratch_chain

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class DeployedChain:
    """A running node with TraceRegistry deployed, shared by the tests of one module."""

    settings: Settings
    chain: Chain

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, response
        return response["result"]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        assert self.rpc("evm_revert", snapshot_id) is True

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def head(self) -> int:
        return int(self.w3.eth.block_number)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedChain]:
    with scratch_chain(tmp_path_factory.mktemp("index-home")) as (chain, _):
        yield DeployedChain(chain.settings, chain)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty index database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return create_database(server, prefix="index")


@dataclass
class IndexEnv:
    """The chain (restored after the test) and one index database, with ways to open contexts on them."""

    node: DeployedChain
    db_url: str
    engine: Engine
    tmp_path: Path

    def settings(self, confirmations: int = 0) -> Settings:
        return self.node.settings.model_copy(update={"database_url": self.db_url, "confirmations": confirmations})

    def context(self, *, confirmations: int = 0, engine: Engine | None = None) -> TraceContext:
        """A fresh context: its own transaction senders (their nonce counters do not survive an evm_revert)."""
        settings = self.settings(confirmations)
        chain = dataclasses.replace(self.node.chain, settings=settings)
        return TraceContext(settings=settings, chain=chain, engine=engine or self.engine)

    def reference(self, *, confirmations: int = 0) -> dict[str, Any]:
        """The chain tables as a brand-new index reads them from the chain now: what every index must converge to."""
        engine = make_engine(f"sqlite:///{self.tmp_path / f'reference-{uuid.uuid4().hex}.sqlite'}")
        try:
            ctx = self.context(confirmations=confirmations, engine=engine)
            Indexer(chain=ctx.chain, engine=engine).sync()
            return chain_state(engine)
        finally:
            engine.dispose()


def chain_state(engine: Engine) -> dict[str, Any]:
    """Every chain-derived row (sorted, without surrogate ids) and the checkpoint."""
    state: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in t.CHAIN_TABLES:
            columns = [c for c in table.c if c.name != "id"]
            state[table.name] = sorted(tuple(row) for row in conn.execute(select(*columns)))
        state["checkpoint"] = conn.execute(
            select(t.checkpoints.c.block_number).where(t.checkpoints.c.name == CHECKPOINT)
        ).scalar()
    return state


@pytest.fixture
def env(deployed: DeployedChain, db_url: str, tmp_path: Path) -> Iterator[IndexEnv]:
    snapshot = deployed.snapshot()
    engine = make_engine(db_url)
    try:
        yield IndexEnv(deployed, db_url, engine, tmp_path)
    finally:
        engine.dispose()
        deployed.revert(snapshot)


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
