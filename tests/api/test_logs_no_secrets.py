"""No secret reaches a log: API keys, private keys, keystore passwords and Digital Link signatures.

The server runs as `trace serve` in a subprocess (uvicorn access log at info level), with a private key and a
keystore password in its environment; requests carry API keys in both headers, signatures in bodies, and, as a
careless client might send them, in query strings. Then CLI commands run with TRACE_PRIVATE_KEY,
TRACE_IMPORT_KEY and TRACE_KEY_PASSWORD set, failing ones with --traceback. Everything the server and the CLI print
is searched for every secret.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from tests.conftest import ROOT, TRACE, free_port, run_trace
from trace_api.chain.accounts import DEV_ACCOUNTS, dev_account
from trace_api.config import Settings
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.demo import ROASTED, UNITS

PASSWORD = "correct-horse-battery-staple-7f3a"
WRONG_PASSWORD = "wrong-horse-battery-staple-91c2"
PLAIN_KEY = Account.create().key.hex()  # TRACE_PRIVATE_KEY: set, never to be printed
KEYSTORE_KEY = Account.create().key.hex()  # imported into an encrypted keystore
INVALID_API_KEY = "trk_" + "Q" * 20 + "notavalidkey" + "Z" * 11


def _forms(secret: str) -> list[str]:
    """A secret as it could be printed: as is, without 0x, lower case."""
    bare = secret.removeprefix("0x")
    return sorted({secret, bare, secret.lower(), bare.lower()} - {""})


def dev_private_keys() -> list[str]:
    return [dev_account(name).key.hex() for name in DEV_ACCOUNTS]


def assert_no_secrets(text: str, secrets: dict[str, str]) -> None:
    assert text.strip(), "nothing was captured"
    leaked = [name for name, secret in secrets.items() for form in _forms(secret) if form in text]
    assert leaked == [], f"secrets in the output: {leaked}"


@pytest.fixture(scope="module")
def demo(demo_env: tuple[dict[str, str], dict[str, Any]]) -> tuple[dict[str, str], dict[str, Any]]:
    return demo_env


@pytest.fixture(scope="module")
def api_key(demo: tuple[dict[str, str], dict[str, Any]]) -> str:
    env, _ = demo
    settings = Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]))
    return apikeys.create_key(get_engine(settings), organisation="Roastery Co", account="processor")


@pytest.fixture(scope="module")
def server(
    demo: tuple[dict[str, str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`trace serve` on a free port; (base URL, file with its stdout and stderr)."""
    env, _ = demo
    port = free_port()
    log = tmp_path_factory.mktemp("serve-logs") / "serve.log"
    server_env = {**os.environ, **env, "TRACE_PRIVATE_KEY": PLAIN_KEY, "TRACE_KEY_PASSWORD": PASSWORD}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*TRACE, "serve", "--port", str(port)],
            cwd=ROOT,
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_logs_carry_no_keys_or_signatures(
    server: tuple[str, Path], api_key: str, demo: tuple[dict[str, str], dict[str, Any]]
) -> None:
    base, log = server
    _, summary = demo
    signed_uri = summary["label"]["signed_uri"]
    uri, _, signature = signed_uri.partition("#sig=")
    assert signature.startswith("0x") and len(signature) == 132
    bad_signature = "0x" + ("ab" * 65)
    gtin, lot = ROASTED
    bearer = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base, timeout=60) as http:
        # API keys in both headers, valid and not, on writes that succeed and writes that fail.
        assert http.post(
            "/batches",
            json={"gtin": "09506000134352", "lot": "LOGS" + str(free_port())},
            headers={"X-API-Key": api_key},
        ).status_code in (201, 409)
        assert (
            http.post(f"/batches/{gtin}/{lot}/events", json={"step": "no-such-step"}, headers=bearer).status_code == 422
        )
        assert (
            http.post(
                "/batches", json={"gtin": "x"}, headers={"Authorization": f"Bearer {INVALID_API_KEY}"}
            ).status_code
            == 401
        )
        assert http.post("/capture", content=b"{not json", headers=bearer).status_code == 422
        assert http.get("/no/such/page", headers=bearer).status_code == 404
        # The signed Digital Link: an HTTP client never sends the fragment ...
        scanned = http.get(f"{base}/01/{signed_uri.split('/01/', 1)[1]}", headers={"Accept": "application/json"})
        assert scanned.status_code == 200
        assert signature.encode() not in scanned.request.url.raw_path  # the request target that was sent
        # ... but a careless one may put the signature, or a key, in the query string.
        careless = http.get(
            f"/01/{gtin}/10/{lot}/21/{UNITS[0]}", params={"sig": signature, "linkType": "all", "api_key": api_key}
        )
        assert careless.status_code == 200
        # The signature check takes the signature in the body, valid, wrong, and malformed.
        assert http.post("/verify/signature", json={"uri": uri, "signature": signature}).json()["trusted"] is True
        wrong = http.post("/verify/signature", json={"uri": uri, "signature": bad_signature})
        assert wrong.status_code in (200, 422)
        malformed = http.post("/verify/signature", json={"uri": uri, "signature": signature[:-2]})
        assert malformed.status_code == 422 and signature[:-2] not in malformed.text  # not even echoed back
    time.sleep(0.5)  # let the access log flush
    text = log.read_text(errors="replace")
    assert '"POST /verify/signature HTTP/1.1" 200' in text, text[-2000:]  # the access log was captured
    assert "sig=[redacted]" in text and "api_key=[redacted]" in text
    secrets = {
        "api key": api_key,
        "invalid api key": INVALID_API_KEY,
        "signature": signature,
        "bad signature": bad_signature,
        "TRACE_PRIVATE_KEY": PLAIN_KEY,
        "keystore password": PASSWORD,
    }
    secrets |= {f"dev key {i}": key for i, key in enumerate(dev_private_keys())}
    assert_no_secrets(text, secrets)


def test_cli_output_carries_no_keys_or_passwords(demo: tuple[dict[str, str], dict[str, Any]], tmp_path: Path) -> None:
    env, _ = demo
    base = {**env, "TRACE_KEYSTORE_DIR": str(tmp_path / "keystore"), "TRACE_PRIVATE_KEY": PLAIN_KEY}
    good = {**base, "TRACE_KEY_PASSWORD": PASSWORD}
    wrong = {**base, "TRACE_KEY_PASSWORD": WRONG_PASSWORD}
    remote = {**good, "TRACE_RPC_URL": f"http://localhost:{env['TRACE_NODE_PORT']}"}  # not the embedded node
    runs = [
        (0, run_trace("keys", "import", "ops", env={**good, "TRACE_IMPORT_KEY": KEYSTORE_KEY})),
        (3, run_trace("--traceback", "keys", "import", "ops", env={**good, "TRACE_IMPORT_KEY": KEYSTORE_KEY})),
        (0, run_trace("--json", "keys", "list", env=good)),
        # The keystore's account holds no role: a contract revert, with the full traceback.
        (
            5,
            run_trace(
                "--traceback",
                "--as",
                "ops",
                "batch",
                "register",
                "--gtin",
                "09506000134352",
                "--lot",
                "NOROLE1",
                env=good,
            ),
        ),
        (
            None,
            run_trace(
                "--traceback",
                "--as",
                "ops",
                "batch",
                "register",
                "--gtin",
                "09506000134352",
                "--lot",
                "NOROLE2",
                env=wrong,
            ),
        ),
        (
            None,
            run_trace("--traceback", "batch", "register", "--gtin", "09506000134352", "--lot", "PLAIN1", env=remote),
        ),
        (None, run_trace("--traceback", "batch", "register", "--gtin", "09506000134353", "--lot", "BAD", env=good)),
        (0, run_trace("--json", "node", "status", env=good)),
    ]
    outputs = []
    for expected, result in runs:
        if expected is not None:
            assert result.code == expected, (result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "Traceback (most recent call last)" in text  # the --traceback output was captured
    assert "wrong password" in text and "plaintext keys are accepted only on the local dev chain" in text
    secrets = {
        "keystore key": KEYSTORE_KEY,
        "TRACE_PRIVATE_KEY": PLAIN_KEY,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
    }
    secrets |= {f"dev key {i}": key for i, key in enumerate(dev_private_keys())}
    assert_no_secrets(text, secrets)
