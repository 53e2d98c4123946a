"""schemathesis hooks for `make fuzz-api` (loaded through SCHEMATHESIS_HOOKS, in the tools venv).

The OpenAPI document describes well-formed JSON, so schemathesis alone never sends what issue 16 found: numbers
that are not finite (``NaN``, ``Infinity``, ``1e999``: Python reads them all, and the server then failed to write
them back) and Digital Links whose primary key is not a GTIN, or that carry key qualifiers in the query string.
These hooks add both to what is generated, beside the schema's own cases:

- every JSON body also comes as a variant with one value (or an added member) replaced by a non-finite literal;
- every query also comes as a variant with one parameter set to a non-finite literal;
- ``POST /verify/signature`` also gets generated Digital Links: any GS1 application identifiers as path and query
  parts, non-GTIN primary keys (SSCC, GLN, GRAI, ...), and the links the issue reported.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any
from urllib.parse import quote

import schemathesis
from hypothesis import strategies as st

COUNTS_FILE = os.environ.get("FUZZ_HOOKS_COUNTS", "")  # one line per added input: its kind
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"]
_MARK = "\u0000non-finite\u0000"

# Primary keys, qualifiers and data attributes of GS1 Digital Link, and some that are not GS1 at all.
AIS = [
    "00",
    "01",
    "253",
    "255",
    "414",
    "417",
    "8003",
    "8004",
    "8006",
    "8010",
    "8017",
    "8018",
    "10",
    "21",
    "22",
    "235",
    "254",
    "7040",
    "17",
    "3103",
    "99",
    "gtin",
]
REPORTED_LINKS = [
    "https://id.gs1.org/414/9520123456788?01=09506000134369",
    "https://id.gs1.org/414/9520123456788/254/1?01=09506000134369&10=LOT",
    "https://id.gs1.org/00/106141412345678908",
    "https://id.gs1.org/8004/0950600013430000001",
    "https://id.gs1.org/01/09506000134352/10/LOT?17=261231&01=09506000134369",
    "https://id.gs1.org/01/09506000134352?01=09506000134352",
    "https://id.gs1.org/01/",
]


def _count(kind: str) -> None:
    if COUNTS_FILE:
        with open(COUNTS_FILE, "a", encoding="ascii") as out:
            out.write(kind + "\n")


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of the scalar values in a JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*path, i))]
    return [path]


def _with_literal(body: Any, path: tuple[Any, ...] | None, literal: str) -> bytes:
    """``body`` as JSON text with the value at ``path`` (or a new member, for None) written as ``literal``."""
    _count("non-finite body")
    body = copy.deepcopy(body)
    if path is None:
        if isinstance(body, dict):
            body["x-non-finite"] = _MARK
        elif isinstance(body, list):
            body.append(_MARK)
        else:
            body = _MARK
    elif path == ():
        body = _MARK
    else:
        target = body
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = _MARK
    return json.dumps(body).replace(json.dumps(_MARK), literal).encode()


def _map(generated: Any, function: Any) -> Any:
    """``function`` applied to a generated value; schemathesis may wrap values with their provenance."""
    return generated.map_value(function) if hasattr(generated, "map_value") else function(generated)


def _raw(generated: Any) -> Any:
    return generated.value if hasattr(generated, "map_value") else generated


def _non_finite_variants(generated: Any) -> st.SearchStrategy[Any]:
    places: list[tuple[Any, ...] | None] = [None, *_paths(_raw(generated))]
    return st.tuples(st.sampled_from(places), st.sampled_from(NON_FINITE)).map(
        lambda choice: _map(generated, lambda body: _with_literal(body, *choice))
    )


_value = st.one_of(
    st.text("0123456789", min_size=1, max_size=20),
    st.text(st.characters(codec="ascii", categories=("L", "N", "P", "S")), max_size=24),
)
_pairs = st.lists(st.tuples(st.sampled_from(AIS), _value), min_size=0, max_size=3)
_links = st.builds(
    lambda host, path, query: (
        host
        + "".join(f"/{ai}/{quote(v, safe='')}" for ai, v in path)
        + ("?" + "&".join(f"{ai}={quote(v, safe='')}" for ai, v in query) if query else "")
    ),
    st.sampled_from(["https://id.gs1.org", "https://example.org/dl", "http://127.0.0.1:8000"]),
    _pairs.filter(bool),
    _pairs,
)
DIGITAL_LINKS = st.one_of(st.sampled_from(REPORTED_LINKS), _links)


def _with_uri(generated: Any, uri: str) -> Any:
    _count("digital link")
    return _map(generated, lambda body: {**body, "uri": uri} if isinstance(body, dict) else body)


@schemathesis.hook
def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    if context.operation is not None and context.operation.path == "/verify/signature":
        linked = st.builds(_with_uri, strategy, DIGITAL_LINKS)
        strategy = st.one_of(strategy, linked, linked)  # two in three bodies carry a generated link
    return st.one_of(strategy, strategy.flatmap(_non_finite_variants))


def _query_variant(generated: Any, name: str, literal: str) -> Any:
    _count("non-finite query")
    return _map(generated, lambda query: {**(query or {}), name: literal})


@schemathesis.hook
def before_generate_query(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    operation = context.operation
    names = [p.name for p in getattr(operation, "query", [])] if operation is not None else []
    if not names:
        return strategy
    return st.one_of(strategy, st.builds(_query_variant, strategy, st.sampled_from(names), st.sampled_from(NON_FINITE)))
