"""Every mutating HTTP route needs an organisation's API key, and an organisation can only do what its account
may do on chain.

The routes are enumerated from the app itself (every POST/PUT/PATCH/DELETE route it serves), so a write route
added later without ``CallerDep`` makes this module fail.

Wrong organisation: **409 with the contract's error, not 403.** An API key is valid or not (401); what its
account may do is decided on chain, and it changes with state (custody moves with shipping and receiving, roles are
granted and revoked, a trade has one buyer and one arbiter). The API does not second-guess those rules before
sending: every write is first dry-run against the chain, and a refusal comes back as 409 problem+json whose
``error`` names the contract's custom error (``TraceNotCustodian``, ``TraceNotProducerOrAdmin``,
``AccessControlUnauthorizedAccount``, ``EscrowNotBuyer``, ...) with its arguments, so clients switch on ``error``.
Nothing is sent, so the refused account's nonce does not move. 403 is kept for a valid key whose account the
server cannot sign with (no such account or keystore), which is the operator's to fix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.http.deps import get_caller
from trace_api.http.introspect import operations
from trace_api.index.store import get_engine
from trace_api.services import apikeys

GTIN = "09506000134352"


def lot() -> str:
    return "AUTH" + uuid.uuid4().hex[:8].upper()


@pytest.fixture(scope="module")
def app(trace_session_settings: Settings) -> FastAPI:
    return create_app(trace_session_settings)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def keys(trace_session_settings: Settings) -> dict[str, dict[str, str]]:
    """One organisation per dev account: account name -> auth header."""
    engine = get_engine(trace_session_settings)
    orgs = {"producer": "Farm Co", "seller": "Other Farm Co", "buyer": "Shop Co", "processor": "Roastery Co"}
    return {
        account: {"Authorization": f"Bearer {apikeys.create_key(engine, organisation=org, account=account)}"}
        for account, org in orgs.items()
    }


# POST routes that change nothing and are public on purpose. Adding one here is a reviewed decision.
PUBLIC_POSTS = {
    # Checks a Digital Link signature; POST only so the signature travels in the body, never in a URL or a log.
    ("POST", "/verify/signature"),
}


def mutating_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves with POST, PUT, PATCH or DELETE, but the public checks."""
    return sorted(
        (method, op.path)
        for op in operations(app)
        if op.mutating
        for method in op.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if (method, op.path) not in PUBLIC_POSTS
    )


def _url(path: str) -> str:
    """A concrete URL for a path template: every parameter is "1" (valid for ids, GTIN and lot alike)."""
    parts = [("1" if part.startswith("{") else part) for part in path.split("/")]
    return "/".join(parts)


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "missing": {},
    "invalid bearer": {"Authorization": "Bearer trk_" + "x" * 43},
    "empty bearer": {"Authorization": "Bearer "},
    "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "invalid X-API-Key": {"X-API-Key": "trk_not-a-key"},
}


def unauthenticated(client: TestClient, app: FastAPI) -> list[str]:
    """The mutating routes that answered anything but 401 problem+json to a request without a valid key."""
    wrong = []
    for method, path in mutating_routes(app):
        for case, headers in BAD_CREDENTIALS.items():
            response = client.request(method, _url(path), json={}, headers=headers)
            if (
                response.status_code != 401
                or not response.headers.get("content-type", "").startswith("application/problem+json")
                or response.json().get("title") != "UnauthorizedError"
            ):
                wrong.append(f"{method} {path} ({case}): {response.status_code}")
    return wrong


def test_the_routes_seen_are_the_routes_served(app: FastAPI) -> None:
    served = {(m.lower(), op.path_format) for op in operations(app) for m in op.methods}
    documented = {(m, p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert served == documented
    routes = mutating_routes(app)
    assert ("POST", "/batches") in routes and ("POST", "/capture") in routes and ("POST", "/escrow/withdraw") in routes
    assert len(routes) >= 14
    assert served_upper(app) >= PUBLIC_POSTS  # the exemptions name routes that exist


def served_upper(app: FastAPI) -> set[tuple[str, str]]:
    return {(m, op.path) for op in operations(app) for m in op.methods}


def test_every_mutating_route_depends_on_the_api_key(app: FastAPI) -> None:
    by_route = {(m, op.path): op for op in operations(app) for m in op.methods}
    assert [f"{m} {p}" for m, p in mutating_routes(app) if not by_route[m, p].depends_on(get_caller)] == []
    schema = app.openapi()["paths"]
    for method, path in mutating_routes(app):
        operation = schema[path][method.lower()]
        assert {"HTTPBearer": []} in operation["security"], f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_every_mutating_route_rejects_missing_and_invalid_keys(
    client: TestClient, app: FastAPI, trace_session_settings: Settings
) -> None:
    from trace_api.chain.client import connect

    chain = connect(trace_session_settings, autostart=False)
    before = chain.w3.eth.block_number
    assert unauthenticated(client, app) == []
    assert chain.w3.eth.block_number == before  # nothing was sent


def test_the_sweep_catches_a_write_route_without_auth(trace_session_settings: Settings) -> None:
    app = create_app(trace_session_settings)

    @app.post("/oops")
    def oops(body: dict[str, Any]) -> dict[str, Any]:
        return body

    with TestClient(app) as client:
        assert unauthenticated(client, app) == [f"POST /oops ({case}): 200" for case in BAD_CREDENTIALS]


def test_a_valid_key_is_accepted_in_either_header(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    token = keys["producer"]["Authorization"].split(" ", 1)[1]
    assert client.post("/batches", json={"gtin": GTIN, "lot": lot()}, headers={"X-API-Key": token}).status_code == 201
    lower = {"Authorization": f"bearer {token}"}
    assert client.post("/batches", json={"gtin": GTIN, "lot": lot()}, headers=lower).status_code == 201


def _revert(response: Any, error: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["title"] == "ContractRevert" and body["error"] == error, body
    return body


def test_another_organisations_batch_is_409_with_the_contract_error(
    client: TestClient, keys: dict[str, dict[str, str]], trace_session_settings: Settings
) -> None:
    from trace_api.chain.client import connect

    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=keys["producer"]).status_code == 201
    assert (
        client.post(
            f"/batches/{GTIN}/{l1}/events", json={"step": "commissioning"}, headers=keys["producer"]
        ).status_code
        == 201
    )
    w3 = connect(trace_session_settings, autostart=False).w3
    other = dev_account("seller").address  # Other Farm Co: a producer too, but not of this batch
    nonce = w3.eth.get_transaction_count(other)

    shipped = _revert(
        client.post(
            f"/batches/{GTIN}/{l1}/events", json={"step": "shipping", "to": "0x" + "11" * 20}, headers=keys["seller"]
        ),
        "TraceNotCustodian",
    )
    assert shipped["args"][1:] == [other.lower(), dev_account("producer").address.lower()]  # who tried, who holds
    recalled = _revert(
        client.post(f"/batches/{GTIN}/{l1}/recall", json={"reason": "not mine to recall"}, headers=keys["seller"]),
        "TraceNotProducerOrAdmin",
    )
    assert other.lower() in recalled["args"]
    # An organisation whose account holds no producer role cannot register batches at all.
    no_role = client.post("/batches", json={"gtin": GTIN, "lot": lot()}, headers=keys["buyer"])
    assert _revert(no_role, "AccessControlUnauthorizedAccount")["args"][0] == dev_account("buyer").address.lower()
    assert w3.eth.get_transaction_count(other) == nonce  # refused by the dry run: nothing was sent

    # The batch is untouched: still with its producer, not recalled.
    summary = client.get(f"/batches/{GTIN}/{l1}").json()
    assert summary["recalled"] is False and summary["custodian"] == dev_account("producer").address.lower()


def test_another_organisations_trade_is_409_with_the_contract_error(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    l1 = lot()
    assert client.post("/batches", json={"gtin": GTIN, "lot": l1}, headers=keys["producer"]).status_code == 201
    opened = client.post(
        "/escrow/trades",
        headers=keys["buyer"],
        json={
            "gtin": GTIN,
            "lot": l1,
            "seller": dev_account("producer").address,
            "arbiter": dev_account("processor").address,
            "token": "USDC",
            "amount": "10",
        },
    )
    assert opened.status_code == 201, opened.text
    trade = opened.json()["trade_id"]
    # Only the buyer may confirm, only the arbiter may resolve (and only a disputed trade).
    _revert(client.post(f"/escrow/trades/{trade}/confirm", headers=keys["seller"]), "EscrowNotBuyer")
    _revert(
        client.post(f"/escrow/trades/{trade}/dispute", json={"text": "outsider"}, headers=keys["seller"]),
        "EscrowNotParty",
    )


def test_a_key_whose_account_cannot_sign_is_403_without_server_details(
    client: TestClient, trace_session_settings: Settings
) -> None:
    token = apikeys.create_key(get_engine(trace_session_settings), organisation="Ghost Co", account="nobody")
    response = client.post("/batches", json={"gtin": GTIN, "lot": lot()}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["title"] == "ForbiddenError" and "nobody" in body["detail"]
    assert str(trace_session_settings.home) not in response.text


# ---- the README's table of who may change what ----
README = Path(__file__).resolve().parents[2] / "README.md"
# CLI commands that change nothing the project keeps (chain, index, TRACE_HOME): they only read, or write a file
# the user names, or serve. A command added later must be put in the table or here.
READ_ONLY_COMMANDS = {
    "trace accounts",
    "trace epcis verify",
    "trace org list",
    "trace org show",
    "trace token balance",
    "trace apikey list",
    "trace batch show",
    "trace compile",
    "trace epcis export",
    "trace epcis hash",
    "trace escrow balance",
    "trace escrow list",
    "trace escrow show",
    "trace escrow doc list",
    "trace escrow doc get",
    "trace escrow statement",
    "trace keys list",
    "trace node status",
    "trace qr make",
    "trace qr sheet",
    "trace serve",
    "trace verify",
}


def _readme_table() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("### Who may change what") :].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("|"))
    end = next(i for i in range(start, len(section)) if not section[i].startswith("|"))
    rows = section[start:end]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def cli_commands() -> set[str]:
    from cli.main import COMMANDS, build_command

    def walk(command: Any, prefix: str) -> Iterator[str]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{prefix} {name}")
        else:
            yield prefix

    return {found for name in COMMANDS for found in walk(build_command(name), f"trace {name}")}


def test_the_readme_lists_every_mutating_route_and_who_may_call_it(app: FastAPI) -> None:
    rows = _readme_table()
    assert all(len(row) == 4 and row[3] for row in rows), "every row names who may"
    routes = {tuple(m.split(" ", 1)) for row in rows for m in re.findall(r"`([A-Z]+ /[^`]*)`", row[1])}
    served = {
        (m, op.path) for op in operations(app) if op.mutating for m in op.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert routes == served


def test_the_readme_lists_every_mutating_cli_command() -> None:
    rows = _readme_table()
    listed = {c for row in rows for c in re.findall(r"`(trace [a-z -]+?)`", row[2])}
    commands = cli_commands()
    assert listed <= commands, f"not commands: {listed - commands}"
    assert listed.isdisjoint(READ_ONLY_COMMANDS)
    assert commands - READ_ONLY_COMMANDS == listed, f"unlisted: {sorted(commands - READ_ONLY_COMMANDS - listed)}"
