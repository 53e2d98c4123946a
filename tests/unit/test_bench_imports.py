"""Every benchmark module imports: `make bench` is not part of `make test`, so a moved service name would otherwise
be found only by the next person measuring."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import MODULES


@pytest.mark.parametrize("name", [*MODULES, "bench.import_1m", "bench.screenshot"])
def test_the_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert callable(getattr(module, "run", None) or getattr(module, "main", None))
