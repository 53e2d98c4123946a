"""The app's HTTP operations as data: path, methods and dependencies of every API route.

FastAPI keeps included routers as lazy entries in ``app.routes``; this flattens them, so the OpenAPI post-processing
and the tests (every mutating route needs a key) see each operation exactly as it is served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Operation:
    path: str  # as the OpenAPI document writes it: ``/epcs/{epc}/events``, without converters
    route_path: str  # as it is routed: ``/epcs/{epc:path}/events``
    methods: frozenset[str]
    dependant: Dependant
    include_in_schema: bool
    has_body: bool

    @property
    def path_format(self) -> str:
        """The path as the OpenAPI document writes it: ``/{primary}/{rest}`` for ``/{primary:gs1key}/{rest:path}``."""
        return str(compile_path(self.path)[1])

    @property
    def mutating(self) -> bool:
        return bool(self.methods & MUTATING)

    def dependants(self) -> Iterator[Dependant]:
        stack = [self.dependant]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(current.dependencies)

    def depends_on(self, call: Callable[..., Any]) -> bool:
        """Whether ``call`` is among the operation's dependencies, at any depth."""
        return any(d.call is call for d in self.dependants())

    @property
    def takes_input(self) -> bool:
        return self.has_body or any(
            d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
            for d in self.dependants()
        )


def operations(app: FastAPI) -> list[Operation]:
    """Every API route of the app (not the docs pages), with the path it is served at."""
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        route_path = str(context.path)
        found.append(
            Operation(
                path=compile_path(route_path)[1],
                route_path=route_path,
                methods=frozenset(context.methods or ()),
                dependant=context.dependant,
                include_in_schema=bool(context.include_in_schema),
                has_body=context.body_field is not None or "requestBody" in (context.openapi_extra or {}),
            )
        )
    return found


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route serves at ``path`` (HEAD wherever GET is), for a 405's Allow header."""
    patterns: list[tuple[Any, frozenset[str]]] | None = getattr(app.state, "method_patterns", None)
    if patterns is None:
        patterns = [(compile_path(op.route_path)[0], op.methods) for op in operations(app)]
        app.state.method_patterns = patterns
    methods: set[str] = set()
    for regex, served in patterns:
        if regex.match(path):
            methods |= served | ({"HEAD"} if "GET" in served else set())
    return sorted(methods)
