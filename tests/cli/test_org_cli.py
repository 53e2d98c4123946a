"""`trace org`: the registry admin names the organisations behind accounts; the chain holds each profile's hash."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT
from tests.conftest import trace_fails as fails
from tests.conftest import trace_ok as ok
from trace_api.chain.accounts import dev_account


def test_register_show_list_revoke(trace_session_env: dict[str, str]) -> None:
    env = trace_session_env
    org = ok(
        env,
        "org",
        "register",
        "processor",
        "--name",
        "Rotterdam  Roasters BV",
        "--country",
        "nl",
        "--gln",
        "9506000134031",
        "--website",
        "https://roasters.example",
        "--logo",
        str(ROOT / "examples" / "brand.png"),
    )
    assert org["account"] == dev_account("processor").address and org["verified"] is True
    profile = org["profile"]
    assert (profile["legal_name"], profile["country"], profile["glns"]) == (
        "Rotterdam Roasters BV",
        "NL",
        ["9506000134031"],
    )
    assert profile["logo_sha256"].startswith("0x") and org["status"] == "set" and org["version"] >= 1
    # The profile's hash is what the chain holds: recompute it from the profile shown.
    import hashlib

    canonical = json.dumps(
        {k: v for k, v in profile.items() if v not in (None, [])},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert org["profile_hash"] == "0x" + hashlib.sha256(canonical).hexdigest()
    assert ok(env, "org", "show", dev_account("processor").address)["profile_hash"] == org["profile_hash"]
    assert dev_account("processor").address in [o["account"] for o in ok(env, "org", "list")]
    revoked = ok(env, "org", "revoke", "processor")
    assert revoked["verified"] is False and revoked["status"] == "revoked"
    assert ok(env, "org", "show", "processor")["verified"] is False


def test_bad_input_writes_nothing(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env = trace_session_env
    assert "not an ISO 3166-1" in fails(env, 1, "org", "register", "carrier", "--name", "Carrier Co", "--country", "XX")
    assert "invalid check digit" in fails(
        env, 1, "org", "register", "carrier", "--name", "Carrier Co", "--country", "NL", "--gln", "9506000134032"
    )
    assert "website" in fails(
        env,
        1,
        "org",
        "register",
        "carrier",
        "--name",
        "Carrier Co",
        "--country",
        "NL",
        "--website",
        "http://insecure.example",
    )
    # Only a registry admin vouches: a producer's attempt is refused before anything is written.
    refused = fails(env, 5, "org", "register", "carrier", "--name", "Carrier Co", "--country", "NL", "--as", "producer")
    assert "is not a registry admin" in refused
    assert "no organisation profile" in fails(env, 1, "org", "show", "carrier")
