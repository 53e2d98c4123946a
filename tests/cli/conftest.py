"""Fixtures of the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.escrow_env import Env, deployed


@pytest.fixture(scope="module")
def chain_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One node and deployment per test module; each test trades its own batch."""
    yield from deployed(tmp_path_factory)
