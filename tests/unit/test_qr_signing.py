from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from qr import SignatureError, canonical, recover_address, recover_signer, sign_uri, unit_uri, verify_uri

# Anvil's first development account: a public test key, never used for value.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
URI = unit_uri("09506000134352", "L/1", "S001", domain="https://trace.example.com")


def test_signature_round_trip() -> None:
    signed = sign_uri(URI, KEY)
    assert recover_signer(signed) == (URI, ADDRESS)
    assert verify_uri(signed, ADDRESS.lower()) == URI


def test_signature_travels_in_the_fragment_only() -> None:
    signed = sign_uri(URI, KEY)
    parts = urlsplit(signed)
    assert signed.startswith(URI + "#sig=0x")
    assert parts.query == ""
    assert len(parts.fragment) == len("sig=0x") + 130
    # What a browser sends to the server (and so what an access log sees) is the URI without the fragment.
    assert parts._replace(fragment="").geturl() == URI


def test_signature_is_plain_personal_sign_of_the_canonical_uri() -> None:
    signed = sign_uri(URI, KEY)
    expected = Account.sign_message(encode_defunct(text=canonical(URI)), private_key=KEY).signature
    assert signed.endswith("#sig=0x" + bytes(expected).hex())
    assert canonical(URI) == "https://id.gs1.org/01/09506000134352/10/L%2F1/21/S001"


def test_signature_survives_a_change_of_resolver_domain() -> None:
    signed = sign_uri(URI, KEY)
    moved = signed.replace("https://trace.example.com", "https://id.gs1.org")
    assert recover_signer(moved)[1] == ADDRESS


def test_resigning_replaces_an_old_signature() -> None:
    signed = sign_uri(sign_uri(URI, OTHER_KEY), KEY)
    assert signed.count("#") == 1
    assert recover_signer(signed) == (URI, ADDRESS)


@pytest.mark.parametrize(
    ("old", "new"),
    [("/21/S001", "/21/S002"), ("/10/L%2F1", "/10/L%2F2"), ("/01/09506000134352", "/01/00000096385074")],
)
def test_tampered_uri_does_not_verify(old: str, new: str) -> None:
    tampered = sign_uri(URI, KEY).replace(old, new)
    assert recover_signer(tampered)[1] != ADDRESS
    with pytest.raises(SignatureError, match=f"expected {ADDRESS}"):
        verify_uri(tampered, ADDRESS)


def test_tampered_ai_query_does_not_verify() -> None:
    signed = sign_uri(URI + "?17=261231", KEY)
    assert recover_signer(signed)[1] == ADDRESS
    assert recover_signer(signed.replace("17=261231", "17=271231"))[1] != ADDRESS


def test_wrong_key_does_not_verify() -> None:
    signed = sign_uri(URI, OTHER_KEY)
    with pytest.raises(SignatureError, match=r"^signed by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, expected 0xf39F"):
        verify_uri(signed, ADDRESS)


def test_missing_signature_raises() -> None:
    with pytest.raises(SignatureError, match="no signature"):
        recover_signer(URI)
    with pytest.raises(SignatureError, match="no signature"):
        recover_signer(URI + "#other=1")


@pytest.mark.parametrize("sig", ["0x", "0x1234", "0x" + "zz" * 65, "ab" * 65, "0x" + "00" * 66])
def test_malformed_signature_raises(sig: str) -> None:
    with pytest.raises(SignatureError, match="malformed signature"):
        recover_signer(f"{URI}#sig={sig}")


def test_unrecoverable_signature_raises() -> None:
    with pytest.raises(SignatureError, match="invalid signature"):
        recover_address(URI, "0x" + "00" * 65)


def test_recover_address_takes_the_signature_apart_from_the_uri() -> None:
    sig = sign_uri(URI, KEY).split("#sig=")[1]
    assert recover_address(URI, sig) == ADDRESS


@pytest.mark.parametrize("key", ["0x1234", "not-a-key", "0x" + "ff" * 32])
def test_invalid_key_raises_without_echoing_it(key: str) -> None:
    with pytest.raises(SignatureError, match=r"^invalid private key$") as caught:
        sign_uri(URI, key)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_expected_signer_must_be_an_address() -> None:
    with pytest.raises(SignatureError, match="is not an address"):
        verify_uri(sign_uri(URI, KEY), "0x1234")
