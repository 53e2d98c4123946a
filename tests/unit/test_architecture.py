"""Imports go downward (ARCHITECTURE.md): qr <- core <- services <- http, cli; front-ends never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

ORDER = {"qr": 0, "core": 1, "services": 2, "http": 3, "cli": 3}
SANCTIONED = {("cli", "trace_api.http.server")}  # `trace serve` / `trace demo` start the service through it


def room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in ("qr", "cli"):
        return parts[0]
    if parts[0] == "trace_api":
        return parts[1] if len(parts) > 1 and parts[1] in ("services", "http") else "core"
    return None


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names if node.module == "trace_api.services"]
    return found


def sources(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_imports_go_downward() -> None:
    wrong = []
    for path in sources("qr", "trace_api", "cli"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        here = room(module)
        assert here is not None
        for name in imports(path):
            there = room(name)
            if there is None or there == here or (here, name) in SANCTIONED:
                continue
            if ORDER[there] >= ORDER[here]:
                wrong.append(f"{module} ({here}) imports {name} ({there})")
    assert not wrong, "\n".join(wrong)


def test_only_scripts_and_contract_tests_import_brownie() -> None:
    allowed = (ROOT / "scripts", ROOT / "tests" / "contracts")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources("qr", "trace_api", "cli", "bench", "tools", "tests")
        if not path.is_relative_to(allowed[0])
        and not path.is_relative_to(allowed[1])
        and any(name.split(".")[0] == "brownie" for name in imports(path))
    ]
    assert not offenders


def test_every_room_on_disk_is_in_the_architecture() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    rooms = [p for p in (ROOT / "trace_api").iterdir() if p.is_dir() and not p.name.startswith("__")]
    missing = [f"trace_api/{p.name}/" for p in rooms if f"trace_api/{p.name}/" not in text]
    assert not missing, f"rooms missing from ARCHITECTURE.md: {missing}"


def test_no_import_cycle_between_services() -> None:
    """Not even through imports inside function bodies: a cycle means shared code lives in the wrong room."""
    graph: dict[str, set[str]] = {}
    for path in sources("trace_api/services"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        graph[module] = {name for name in imports(path) if name.startswith("trace_api.services.") and name != module}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif len(trail) < len(graph):
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "\n".join(sorted(set(cycles))[:10])


QUERY_CONSTRUCTS = {"select", "insert", "update", "delete", "text", "union", "union_all", "func", "bindparam",
                    "or_", "and_", "exists", "literal", "case"}  # fmt: skip


def builds_sql(path: Path) -> list[str]:
    """What ``path`` imports to build SQL: sqlalchemy's query constructs (``from sqlalchemy import select``,
    ``sqlalchemy.sql``, ``sqlalchemy.select``) or the index's tables (``trace_api.index.schema``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sqlalchemy":
                found += [f"sqlalchemy.{a.name}" for a in node.names if a.name in QUERY_CONSTRUCTS]
            elif node.module.startswith("sqlalchemy.sql") or node.module == "trace_api.index.schema":
                found.append(node.module)
            elif node.module == "trace_api.index":
                found += [f"trace_api.index.{a.name}" for a in node.names if a.name == "schema"]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in ("sqlalchemy.sql", "trace_api.index.schema")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sqlalchemy":
            found += [f"sqlalchemy.{node.attr}"] if node.attr in QUERY_CONSTRUCTS else []
    return found


def test_no_sql_outside_the_index() -> None:
    """Front-ends and services reach the database through trace_api/index/ (its queries modules), never by
    building SQL themselves; tests, tools, bench and scripts may."""
    index = ROOT / "trace_api" / "index"
    offenders = []
    for path in sources("qr", "trace_api", "cli"):
        name = str(path.relative_to(ROOT))
        if path.is_relative_to(index):
            continue
        if found := builds_sql(path):
            offenders.append(f"{name}: {', '.join(sorted(set(found)))}")
    assert not offenders, "SQL outside trace_api/index/:\n" + "\n".join(offenders)


def test_the_sql_check_sees_every_way_of_building_a_query(tmp_path: Path) -> None:
    ways = {
        "from sqlalchemy import Engine, select": ["sqlalchemy.select"],
        "import sqlalchemy\nsqlalchemy.text('SELECT 1')": ["sqlalchemy.text"],
        "from sqlalchemy.sql import expression": ["sqlalchemy.sql"],
        "from trace_api.index import schema as t": ["trace_api.index.schema"],
        "from trace_api.index.schema import batch_keys": ["trace_api.index.schema"],
        "from sqlalchemy import Engine\nfrom trace_api.index import queries": [],
    }
    for source, expected in ways.items():
        path = tmp_path / "sample.py"
        path.write_text(source)
        assert builds_sql(path) == expected, source


# Private names reached from outside their package, each with its reason.
PRIVATE_REACHED = {
    # biip's public API looks up one AI at a time; decompression needs the table of every AI (biip is pinned).
    ("qr.dl_compression", "biip.gs1_application_identifiers._GS1_APPLICATION_IDENTIFIERS"),
}


def test_no_private_module_or_name_is_imported_from_outside_its_package() -> None:
    """`typer._click`, `trace_api.epcis._canon` and the like are someone's internals: a module imports a private
    module or name only from inside the package that holds it."""
    offenders = []
    for path in sources("qr", "trace_api", "cli"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                private = next((i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")), None)
                if private is None or (module, name) in PRIVATE_REACHED:
                    continue
                owner = ".".join(parts[:private])
                if not module.startswith(owner + "."):
                    offenders.append(f"{module} imports {name}")
    assert not offenders, "\n".join(offenders)
